"""schemathesis over every route of the OpenAPI description: no server error, every answer as documented.

The real app on a migrated SQLite file with a household, devices, an incident and an admin whose
token every case carries. Bounded for CI: ``MAX_EXAMPLES`` per operation, derandomized so a run is
repeatable (``ANJU_SCHEMATHESIS_EXAMPLES=200`` searches wider on a workstation).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import User
from anju.web.app import create_app
from anju.web.deps import issue_token
from tests.support.api import sqlite_context
from tests.support.browser import add_home, add_user, press_button

MAX_EXAMPLES = int(os.environ.get("ANJU_SCHEMATHESIS_EXAMPLES", "12"))
#: Far from the small ids hypothesis favours: a generated PATCH /users/{id} should not hit the admin.
ADMIN_ID = 1_234_567
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: The live stream never ends: the transport keeps what it sent within this many seconds.
STREAM_READ_S = 0.5


async def _seed(url: str) -> SimpleNamespace:
    await upgrade(url)
    async with sqlite_context(url) as ctx:
        for _ in range(3):
            home = await add_home(ctx)
            await press_button(ctx, home)
        admin_id = await add_user(ctx, "fuzz-admin", Role.ADMIN)
        await add_user(ctx, "fuzz-operator", Role.OPERATOR)
        async with transaction(ctx.db) as session:
            await session.execute(update(User).where(User.id == admin_id).values(id=ADMIN_ID))
    # What issue_token reads of a user: the token is issued without keeping an ORM object around.
    return SimpleNamespace(id=ADMIN_ID, role=Role.ADMIN.value, token_version=0)


def _app_and_admin() -> tuple[Any, Context, SimpleNamespace]:
    from tests.support.settings import make_settings

    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='anju-schemathesis-')) / 'anju.db'}"
    admin = asyncio.run(_seed(url))
    # A fresh context: its connections are opened on the loop schemathesis serves the app from.
    ctx = Context.create(make_settings(url))
    return create_app(ctx), ctx, admin


@schemathesis.serializer("application/toml")
def _toml(_ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The escalation policy upload: generated text sent as it is (a lone surrogate as raw bytes)."""
    return str(value).encode("utf-8", "surrogatepass")


#: Answers by operation and status, for the figures in docs/operations.md (``-s`` prints them at exit).
CALLS: defaultdict[str, Counter[int]] = defaultdict(Counter)
APP, CTX, ADMIN = _app_and_admin()
TOKEN = issue_token(CTX, ADMIN)  # type: ignore[arg-type]
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented_and_never_with_a_server_error(case: schemathesis.Case) -> None:
    # Logout revokes the token it is called with: it gets a token of its own each time.
    token = issue_token(CTX, ADMIN) if case.path.endswith("/auth/logout") else TOKEN  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {"timeout": STREAM_READ_S} if case.path == "/api/v1/stream" else {}
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, **kwargs)
    CALLS[case.operation.label][response.status_code] += 1
    assert response.status_code < 500
    assert response.headers.get("x-content-type-options") == ["nosniff"]


def test_the_fuzz_covers_every_operation_of_the_openapi_description() -> None:
    documented = {(m.upper(), p) for p, ops in APP.openapi()["paths"].items() for m in ops}
    fuzzed = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert fuzzed == documented and len(documented) >= 40


def _report() -> None:
    if os.environ.get("ANJU_SCHEMATHESIS_REPORT"):
        statuses: Counter[int] = sum(CALLS.values(), Counter())
        total = sum(statuses.values())
        print(f"\nschemathesis: {len(CALLS)} operations, {total} calls, {dict(sorted(statuses.items()))}")


atexit.register(_report)
