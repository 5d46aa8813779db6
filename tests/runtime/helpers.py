"""A pipeline (engine + dispatch) on a real database with one home, for the runtime's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from anju.clock import SimClock
from anju.context import Context
from anju.engine.core import Engine
from anju.engine.pack import load_pack
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Device, Household
from tests.support.settings import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@asynccontextmanager
async def one_home_pipeline(
    db_url: str, heartbeats: dict[str, int | None]
) -> AsyncIterator[tuple[Context, Pipeline, SimClock]]:
    """Household ``h-1`` with ``pir-1``, ``door-1`` and ``btn-1`` (heartbeat seconds by kind)."""
    clock = SimClock(START)
    ctx = Context.create(make_settings(db_url), clock=clock)
    async with transaction(ctx.db) as session:
        session.add(Household(id="h-1", name="王奶奶家", created_at=START, updated_at=START))
        await session.flush()
        for device_id, kind in (("pir-1", "pir"), ("door-1", "door"), ("btn-1", "button")):
            session.add(
                Device(
                    id=device_id,
                    household_id="h-1",
                    type=kind,
                    location="",
                    protocol="anju-v1",
                    profile=f"anju-{kind}",
                    heartbeat_s=heartbeats.get(kind),
                    created_at=START,
                )
            )
    pipe = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    assert await pipe.configure_from_db() == 1
    try:
        yield ctx, pipe, clock
    finally:
        await ctx.close()
