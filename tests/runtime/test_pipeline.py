"""The runtime's pipeline: engine findings become alerts and incidents; device health marks homes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

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
from anju.store.models import Alert, Device, Household, Incident
from tests.runtime.helpers import START, one_home_pipeline


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline, SimClock]]:
    async with one_home_pipeline(db_url, {"pir": 600, "door": 600}) as running:
        yield running


def obs(device_id: str, kind: DeviceKind, event: EventName, at: datetime) -> Observation:
    return Observation(household_id="h-1", device_id=device_id, kind=kind, event=event, at=at, battery=90)


async def feed(ctx: Context, pipe: Pipeline, *observations: Observation) -> None:
    async with transaction(ctx.db) as session:
        await pipe.on_stored(session, list(observations))


async def degraded(ctx: Context) -> bool:
    async with ctx.db() as session:
        home = await session.get(Household, "h-1")
        assert home is not None
        return home.monitoring_degraded


async def test_a_silent_sensor_marks_monitoring_degraded_until_it_speaks_again(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, clock = pipeline
    await feed(
        ctx,
        pipe,
        obs("pir-1", DeviceKind.PIR, EventName.HEARTBEAT, START),
        obs("door-1", DeviceKind.DOOR, EventName.HEARTBEAT, START),
        obs("pir-1", DeviceKind.PIR, EventName.MOTION, START),
    )
    assert not await degraded(ctx)

    # The door keeps its heartbeat; the PIR falls silent for more than two intervals.
    for minutes in (10, 20, 30):
        at = START + timedelta(minutes=minutes)
        clock.set(at)
        await feed(ctx, pipe, obs("door-1", DeviceKind.DOOR, EventName.HEARTBEAT, at))
        await pipe.tick()
    assert await degraded(ctx)
    async with ctx.db() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.rule == "device_offline"))).all()
    assert [(a.device_id, a.severity, a.incident_id) for a in alerts] == [("pir-1", "low", None)]

    clock.set(START + timedelta(minutes=31))
    await feed(ctx, pipe, obs("pir-1", DeviceKind.PIR, EventName.HEARTBEAT, clock.now()))
    assert not await degraded(ctx)


async def test_a_button_press_opens_one_critical_incident_and_a_replay_raises_nothing_twice(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, _clock = pipeline
    press = obs("btn-1", DeviceKind.BUTTON, EventName.PRESS, START)
    await feed(ctx, pipe, press)
    # A second engine fed the same press (a restart replaying stored events) raises the same key.
    other = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    await other.configure_from_db()
    await feed(ctx, other, press)
    async with ctx.db() as session:
        alerts = (await session.scalars(select(Alert))).all()
        incidents = (await session.scalars(select(Incident))).all()
    assert [(a.rule, a.severity) for a in alerts] == [("button", "critical")]
    assert [(i.state, i.severity, i.rule) for i in incidents] == [("open", "critical", "button")]


async def test_snapshots_saved_twice_restore_a_pending_door_timer_that_fires_once(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, clock = pipeline
    await feed(
        ctx,
        pipe,
        obs("pir-1", DeviceKind.PIR, EventName.MOTION, START),
        obs("door-1", DeviceKind.DOOR, EventName.OPEN, START + timedelta(seconds=30)),
    )
    assert await pipe.save_snapshots() == 1
    clock.set(START + timedelta(minutes=5))
    assert await pipe.save_snapshots(everything=True) == 1  # an upsert over the first

    # A new process: configure, restore, and the door left open fires at its due time, once.
    clock.set(START + timedelta(hours=2))
    fresh = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    await fresh.configure_from_db()
    assert await fresh.restore() == (1, 0)
    await fresh.tick()
    await fresh.tick()
    async with ctx.db() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.rule == "door_left_open"))).all()
    assert len(alerts) == 1
    assert alerts[0].at <= START + timedelta(minutes=21)


async def test_reconfiguring_rereads_only_households_edited_or_given_a_device_since(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, clock = pipeline
    clock.set(START + timedelta(minutes=5))
    await pipe.configure_from_db()  # still inside the margin of the first load's stamps
    clock.set(START + timedelta(minutes=10))
    assert await pipe.configure_from_db() == 0, "nothing changed: nothing re-read"
    async with transaction(ctx.db) as session:
        session.add(Household(id="h-2", name="李爷爷家", created_at=clock.now(), updated_at=clock.now()))
        await session.flush()
        session.add(
            Device(
                id="pir-2",
                household_id="h-2",
                type="pir",
                location="卧室",
                protocol="anju-v1",
                profile="anju-pir",
                heartbeat_s=600,
                created_at=clock.now(),
            )
        )
    clock.set(START + timedelta(minutes=20))
    assert await pipe.configure_from_db() == 1
    clock.set(START + timedelta(minutes=30))
    async with transaction(ctx.db) as session:
        session.add(
            Device(
                id="door-9",
                household_id="h-1",
                type="door",
                location="入户门",
                protocol="anju-v1",
                profile="anju-door",
                heartbeat_s=600,
                created_at=clock.now(),
            )
        )
    clock.set(START + timedelta(minutes=40))
    assert await pipe.configure_from_db() == 1
    assert "h-2" in pipe.engine.household_ids()
