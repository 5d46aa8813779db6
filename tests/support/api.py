"""Helpers for API tests: users of each role, tokens, an HTTP client on the real app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx

from anju.accounts import create_user
from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import SensorEvent
from anju.web.app import create_app
from anju.web.deps import issue_token

PASSWORD = "correct horse battery"


def client_for(ctx: Context) -> httpx.AsyncClient:
    """An httpx client speaking ASGI to ``create_app(ctx)`` (no sockets, real app and database)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://anju.test")


async def add_user(ctx: Context, role: Role, username: str | None = None) -> str:
    """Create a user of ``role`` and return a bearer token for them."""
    async with transaction(ctx.db) as session:
        user = await create_user(
            session,
            username=username or f"{role.value}-{uuid.uuid4().hex[:8]}",
            password=PASSWORD,
            role=role,
            clock=ctx.clock,
        )
    return issue_token(ctx, user)


async def tokens_by_role(ctx: Context) -> dict[Role, str]:
    return {role: await add_user(ctx, role) for role in Role}


@asynccontextmanager
async def signed_in(
    ctx: Context, role: Role, username: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on ``create_app(ctx)`` that carries the token of a new user of ``role``."""
    token = await add_user(ctx, role, username)
    async with client_for(ctx) as client:
        client.headers.update(bearer(token))
        yield client


@asynccontextmanager
async def sqlite_context(url: str) -> AsyncIterator[Context]:
    """A context on a migrated SQLite database, for tests of request validation (no storage difference)."""
    from tests.support.settings import make_settings

    ctx = Context.create(make_settings(url))
    try:
        yield ctx
    finally:
        await ctx.close()


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def household_body(household_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": household_id,
        "name": "王秀英",
        "address": "上海市徐汇区天平路 88 弄 3 号 502",
        "area": "天平街道",
        "timezone": "Asia/Shanghai",
        "residents": [{"name": "王秀英", "birth_year": 1938, "language": "zh-CN"}],
        "contacts": [
            {"name": "李明", "relation": "son", "phone": "+86 138 0013 8000", "priority": 0},
            {"name": "张阿姨", "relation": "neighbour", "phone": "+8613900139000", "priority": 1},
        ],
    }
    body.update(extra)
    return body


async def add_events(ctx: Context, household_id: str, device_id: str, times: list[datetime]) -> None:
    """Store sensor events as the ingestor would (event_time = ts)."""
    async with transaction(ctx.db) as session:
        for seq, at in enumerate(times):
            session.add(
                SensorEvent(
                    device_id=device_id,
                    household_id=household_id,
                    type="pir",
                    event="motion",
                    seq=seq,
                    ts=at,
                    received_at=at,
                    event_time=at,
                    clock_skewed=False,
                )
            )


def detail(response: httpx.Response) -> str:
    """The error text of a response, flattened (FastAPI validation errors are lists)."""
    body: Mapping[str, Any] = response.json()
    value = body.get("detail")
    if isinstance(value, list):
        return "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in value)
    return str(value)


def webhook_paths() -> frozenset[str]:
    """Every path the registered providers' webhook routers serve (as the web app mounts them)."""
    from fastapi import FastAPI

    from anju.notify.providers import webhook_routers

    app = FastAPI()
    for router in webhook_routers():
        app.include_router(router)
    return frozenset(app.openapi()["paths"])
