"""The users and policy routes against every role: who gets in, who gets 403, who gets 401.

A refused write leaves no trace: no audit record, no user, the policy file byte for byte the same.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from anju.context import Context
from anju.domain import Role
from tests.support.admin import copy_rules, last_audit_id, records
from tests.support.api import PASSWORD, client_for
from tests.support.dispatch import add_user
from tests.support.settings import make_settings

ANONYMOUS = "anonymous"
EVERYONE: tuple[Role | str, ...] = (ANONYMOUS, *Role)


@dataclass(frozen=True)
class Case:
    """One route; ``allowed`` get ``ok``, other roles 403, anonymous 401."""

    name: str
    method: str
    path: Callable[[int], str]
    allowed: frozenset[Role]
    ok: int = 200
    json: Callable[[], dict[str, Any]] | None = None
    toml: bool = False

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT")


ADMIN_ONLY = frozenset({Role.ADMIN})
READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})

CASES = [
    Case("list users", "GET", lambda _: "/api/v1/users", ADMIN_ONLY),
    Case(
        "create user",
        "POST",
        lambda _: "/api/v1/users",
        ADMIN_ONLY,
        ok=201,
        json=lambda: {"username": f"u-{uuid.uuid4().hex[:8]}", "password": PASSWORD, "role": "operator"},
    ),
    Case("read user", "GET", lambda target: f"/api/v1/users/{target}", ADMIN_ONLY),
    Case(
        "edit user",
        "PATCH",
        lambda target: f"/api/v1/users/{target}",
        ADMIN_ONLY,
        json=lambda: {"display_name": f"name {uuid.uuid4().hex[:6]}"},
    ),
    Case("read escalation policy", "GET", lambda _: "/api/v1/policies/escalation", READERS),
    Case("replace escalation policy", "PUT", lambda _: "/api/v1/policies/escalation", ADMIN_ONLY, toml=True),
]


@pytest.fixture
async def lite(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Context]:
    ctx = Context.create(make_settings(sqlite_url, rules_dir=copy_rules(tmp_path)))
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_each_role_gets_in_or_is_refused_and_a_refused_write_changes_nothing(
    lite: Context, case: Case
) -> None:
    target, _ = await add_user(lite, Role.OPERATOR)
    policy = Path(lite.settings.rules_dir) / "escalation.toml"
    for role in EVERYONE:
        headers = {} if role == ANONYMOUS else (await add_user(lite, Role(role)))[1]
        before_id = await last_audit_id(lite)
        before_file = policy.read_bytes()
        kwargs: dict[str, Any] = {"headers": headers}
        if case.json is not None:
            kwargs["json"] = case.json()
        if case.toml:
            kwargs["content"] = before_file + f"\n# edited as {role}\n".encode()
            kwargs["headers"] = {**headers, "Content-Type": "application/toml"}
        async with client_for(lite) as http:
            response = await http.request(case.method, case.path(target.id), **kwargs)
        if role == ANONYMOUS:
            expected = 401
        elif role in case.allowed:
            expected = case.ok
        else:
            expected = 403
        assert response.status_code == expected, (case.name, role, response.text)
        if case.writes and expected != case.ok:
            assert await records(lite, after_id=before_id) == [], (case.name, role)
            assert policy.read_bytes() == before_file, (case.name, role)
        if case.writes and expected == case.ok:
            assert len(await records(lite, after_id=before_id)) == 1, (case.name, role)
