"""Hardening: the in-memory degraded flag follows commits, never a rolled-back write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.domain import DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.model import Observation
from anju.engine.pack import load_pack
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Device, Household
from tests.support.settings import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline, SimClock]]:
    clock = SimClock(START)
    ctx = Context.create(make_settings(db_url), clock=clock)
    async with transaction(ctx.db) as session:
        session.add(Household(id="h-deg", name="h", created_at=START, updated_at=START))
        await session.flush()
        session.add(
            Device(
                id="pir-deg",
                household_id="h-deg",
                type="pir",
                location="",
                protocol="anju-v1",
                profile="anju-pir",
                heartbeat_s=60,
                created_at=START,
            )
        )
    pipe = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    await pipe.configure_from_db()
    try:
        yield ctx, pipe, clock
    finally:
        await ctx.close()


async def degraded(ctx: Context) -> bool:
    async with ctx.db() as session:
        return bool(await session.scalar(select(Household.monitoring_degraded)))


async def test_a_degraded_flag_whose_transaction_rolls_back_is_written_again_by_the_next_one(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, clock = pipeline
    pipe.engine.observe(
        Observation(
            household_id="h-deg",
            device_id="pir-deg",
            kind=DeviceKind.PIR,
            event=EventName.HEARTBEAT,
            at=START,
        )
    )
    clock.set(START + timedelta(hours=2))
    pipe.engine.advance(clock.now())  # the sensor is now offline in the engine
    assert pipe.engine.offline_devices("h-deg")
    with pytest.raises(RuntimeError):
        async with transaction(ctx.db) as session:
            await pipe._sync_degraded(session, {"h-deg"})
            raise RuntimeError("the batch rolled back")
    assert await degraded(ctx) is False
    async with transaction(ctx.db) as session:
        await pipe._sync_degraded(session, {"h-deg"})
    assert await degraded(ctx) is True
