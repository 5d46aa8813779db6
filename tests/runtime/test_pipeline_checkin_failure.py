"""A check-in pass that fails never stops the engine's timers for every home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.dispatch import checkins
from anju.domain import DeviceKind, EventName, Rule
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, HouseholdSpec, Observation
from anju.engine.pack import load_pack
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Alert, Household
from tests.support.settings import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


async def test_the_door_timer_fires_while_the_check_in_pass_fails(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = Context.create(make_settings(db_url), clock=SimClock(START))
    try:
        async with transaction(ctx.db) as session:
            session.add(Household(id="h-door", name="h-door", created_at=START, updated_at=START))
        engine = Engine(load_pack(ctx.settings.rules_dir / "default.toml"))
        door = DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR)
        engine.configure([HouseholdSpec(household_id="h-door", timezone="Asia/Shanghai", devices=(door,))])
        engine.observe(
            Observation(
                household_id="h-door",
                device_id="door-1",
                kind=DeviceKind.DOOR,
                event=EventName.OPEN,
                at=START,
            )
        )
        pipe = Pipeline(ctx, engine)

        async def broken(*args: object, **kwargs: object) -> bool:
            raise RuntimeError("a check-in row nobody can read")

        monkeypatch.setattr(checkins, "anything_due", broken)
        raised = await pipe.tick(START + timedelta(minutes=21))
        assert raised == 1
        async with ctx.db() as session:
            rules = (await session.scalars(select(Alert.rule))).all()
        assert rules == [Rule.DOOR_LEFT_OPEN.value]
        assert "check-ins could not be moved on" in caplog.text
    finally:
        await ctx.close()
