"""Every route of the foundation API against every role: who gets in, who gets 403, who gets 401."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi.routing import APIRoute

from anju.api.routes import auth, devices, events, health, households, ingest
from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import DeadLetter, UnknownDevice
from tests.support.api import add_events, add_user, bearer, client_for, household_body, tokens_by_role
from tests.support.settings import make_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANYONE = frozenset({"anonymous", *Role})
SIGNED_IN = frozenset(Role)
STAFF = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
EDITORS = frozenset({Role.OPERATOR, Role.ADMIN})
RULE_EDITORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
HOUSEHOLD = "h-roles"
DEVICE = "pir-roles"


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Case:
    """One route and the roles it admits; ``ok`` is the status an admitted caller gets."""

    name: str
    method: str
    path: str
    allowed: frozenset[Any]
    ok: int = 200
    json: Callable[[], dict[str, Any]] | None = None
    form: dict[str, str] | None = None
    #: For writes: where the written record would be, to check a refused write left nothing.
    written: Callable[[dict[str, Any]], str] | None = field(default=None)


CASES = [
    Case(
        "login",
        "POST",
        "/api/v1/auth/token",
        ANYONE,
        form={"username": "login-admin", "password": "correct horse battery"},
    ),
    Case("me", "GET", "/api/v1/auth/me", SIGNED_IN),
    Case("list households", "GET", "/api/v1/households", STAFF),
    Case(
        "create household",
        "POST",
        "/api/v1/households",
        EDITORS,
        ok=201,
        json=lambda: household_body(_uid("h")),
        written=lambda body: f"/api/v1/households/{body['id']}",
    ),
    Case(
        "create household with rule overrides",
        "POST",
        "/api/v1/households",
        frozenset({Role.ADMIN}),
        ok=201,
        json=lambda: household_body(_uid("h"), rule_overrides={"door_left_open": {"threshold": "30m"}}),
        written=lambda body: f"/api/v1/households/{body['id']}",
    ),
    Case("get household", "GET", f"/api/v1/households/{HOUSEHOLD}", STAFF),
    Case(
        "edit household details",
        "PATCH",
        f"/api/v1/households/{HOUSEHOLD}",
        EDITORS,
        json=lambda: {"notes": f"钥匙在邻居家 {uuid.uuid4().hex[:4]}"},
    ),
    Case(
        "edit rule overrides",
        "PATCH",
        f"/api/v1/households/{HOUSEHOLD}",
        RULE_EDITORS,
        json=lambda: {"rule_overrides": {"door_left_open": {"threshold": f"{uuid.uuid4().int % 50 + 10}m"}}},
    ),
    Case(
        "edit details and rule overrides together",
        "PATCH",
        f"/api/v1/households/{HOUSEHOLD}",
        frozenset({Role.ADMIN}),
        json=lambda: {"area": _uid("area"), "rule_overrides": {"door_left_open": {"threshold": "25m"}}},
    ),
    Case("household events", "GET", f"/api/v1/households/{HOUSEHOLD}/events", STAFF),
    Case("list devices", "GET", "/api/v1/devices", STAFF),
    Case(
        "register device",
        "POST",
        "/api/v1/devices",
        EDITORS,
        ok=201,
        json=lambda: {"id": _uid("door"), "household_id": HOUSEHOLD, "type": "door", "location": "entry"},
        written=lambda body: f"/api/v1/devices/{body['id']}",
    ),
    Case("get device", "GET", f"/api/v1/devices/{DEVICE}", STAFF),
    Case("dead letters", "GET", "/api/v1/ingest/dead-letters", STAFF),
    Case("unknown devices", "GET", "/api/v1/ingest/unknown-devices", STAFF),
    Case("liveness", "GET", "/healthz", ANYONE),
    Case("readiness", "GET", "/readyz", ANYONE),
    Case("metrics", "GET", "/metrics", ANYONE),
]
CALLERS = ["anonymous", *Role]


@dataclass
class World:
    ctx: Context
    client: httpx.AsyncClient
    tokens: dict[Any, str | None]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One SQLite database with a household, a device, events, a dead letter and users of each role."""
    db: Path = tmp_path_factory.mktemp("roles") / "anju.db"
    url = f"sqlite+aiosqlite:///{db}"
    await upgrade(url)
    ctx = Context.create(make_settings(url))
    tokens: dict[Any, str | None] = {"anonymous": None, **await tokens_by_role(ctx)}
    await add_user(ctx, Role.ADMIN, username="login-admin")
    async with client_for(ctx) as client:
        created = await client.post(
            "/api/v1/households", json=household_body(HOUSEHOLD), headers=bearer(tokens[Role.ADMIN])
        )
        assert created.status_code == 201, created.text
        device = await client.post(
            "/api/v1/devices",
            json={"id": DEVICE, "household_id": HOUSEHOLD, "type": "pir", "location": "living room"},
            headers=bearer(tokens[Role.ADMIN]),
        )
        assert device.status_code == 201, device.text
        now = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
        await add_events(ctx, HOUSEHOLD, DEVICE, [now])
        async with transaction(ctx.db) as session:
            session.add(
                DeadLetter(
                    received_at=now,
                    topic="anju/v1/x/event",
                    payload_head=b"{bad",
                    payload_size=4,
                    reason="bad JSON",
                )
            )
            session.add(
                UnknownDevice(
                    key="stranger-1",
                    protocol="anju-v1",
                    first_seen_at=now,
                    last_seen_at=now,
                    message_count=1,
                    last_topic="anju/v1/stranger-1/event",
                    last_payload_head=b"{}",
                )
            )
        yield World(ctx, client, tokens)
    await ctx.close()


def _expected(case: Case, caller: Any) -> int:
    if caller in case.allowed:
        return case.ok
    return 401 if caller == "anonymous" else 403


@pytest.mark.parametrize("caller", CALLERS, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.replace(" ", "-"))
async def test_route_admits_exactly_its_roles(world: World, case: Case, caller: Any) -> None:
    body = case.json() if case.json else None
    response = await world.client.request(
        case.method,
        case.path,
        json=body,
        data=case.form,
        headers=bearer(world.tokens[caller]),
    )
    assert response.status_code == _expected(case, caller), response.text
    if case.written is not None and body is not None:
        # A refused write leaves nothing behind; an admitted one is there to read.
        check = await world.client.get(case.written(body), headers=bearer(world.tokens[Role.ADMIN]))
        assert check.status_code == (200 if caller in case.allowed else 404)


async def test_every_route_of_these_routers_has_a_role_case() -> None:
    covered = {
        (c.method, c.path.replace(HOUSEHOLD, "{household_id}").replace(DEVICE, "{device_id}")) for c in CASES
    }
    routes = {
        (method, ("" if module is health else "/api/v1") + route.path)
        for module in (auth, households, devices, events, ingest, health)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert len(routes) == 16
    # Logout revokes the token it is called with (this module shares its tokens): every role's case
    # is in tests/api/test_hostile_http.py.
    routes.discard(("POST", "/api/v1/auth/logout"))
    assert routes <= covered, f"routes without a role case: {sorted(routes - covered)}"
