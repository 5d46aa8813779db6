"""Review: findings the engine produced in a transaction that rolled back are raised on the retry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from anju.clock import SimClock
from anju.context import Context
from anju.domain import DeviceKind, EventName
from anju.engine.model import Observation
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Alert, Incident
from tests.runtime.helpers import START, one_home_pipeline


class CommitLost(RuntimeError):
    """Stands for a database error at commit (connection dropped, serialization failure)."""


@contextmanager
def next_commit_fails() -> Iterator[None]:
    """The next commit of any session raises before it reaches the database; later ones succeed."""
    armed = [True]

    def _fail(session: Session) -> None:
        # Only the outer COMMIT: releasing a SAVEPOINT also emits before_commit.
        if armed[0] and session.get_nested_transaction() is None:
            armed[0] = False
            raise CommitLost("injected: the connection dropped at commit")

    event.listen(Session, "before_commit", _fail)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", _fail)


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline, SimClock]]:
    async with one_home_pipeline(db_url, {}) as running:
        yield running


def obs(device_id: str, kind: DeviceKind, event_name: EventName, at: datetime) -> Observation:
    return Observation(household_id="h-1", device_id=device_id, kind=kind, event=event_name, at=at)


async def feed(ctx: Context, pipe: Pipeline, *observations: Observation) -> None:
    async with transaction(ctx.db) as session:
        await pipe.on_stored(session, list(observations))


async def alerts_of(ctx: Context, rule: str) -> list[Alert]:
    async with ctx.db() as session:
        return list((await session.scalars(select(Alert).where(Alert.rule == rule))).all())


async def test_a_button_press_whose_batch_commit_fails_still_opens_its_incident_when_the_batch_is_retried(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, _clock = pipeline
    press = obs("btn-1", DeviceKind.BUTTON, EventName.PRESS, START)
    # The ingestor's first attempt: the engine sees the press, then the commit fails.
    with next_commit_fails(), pytest.raises(CommitLost):
        await feed(ctx, pipe, press)
    assert await alerts_of(ctx, "button") == []
    # The ingestor retries the same (unacknowledged) batch in a new transaction.
    await feed(ctx, pipe, press)

    alerts = await alerts_of(ctx, "button")
    assert [(a.severity, a.device_id) for a in alerts] == [("critical", "btn-1")]
    async with ctx.db() as session:
        incidents = (await session.scalars(select(Incident))).all()
    assert [(i.state, i.rule) for i in incidents] == [("open", "button")]


async def test_a_door_left_open_whose_tick_commit_fails_is_raised_by_the_next_tick_once(
    pipeline: tuple[Context, Pipeline, SimClock],
) -> None:
    ctx, pipe, clock = pipeline
    await feed(
        ctx,
        pipe,
        obs("pir-1", DeviceKind.PIR, EventName.MOTION, START),
        obs("door-1", DeviceKind.DOOR, EventName.OPEN, START + timedelta(seconds=30)),
    )
    clock.set(START + timedelta(hours=1))
    with next_commit_fails(), pytest.raises(CommitLost):
        await pipe.tick()
    assert await alerts_of(ctx, "door_left_open") == []

    clock.set(START + timedelta(hours=1, seconds=1))
    await pipe.tick()
    await pipe.tick()
    alerts = await alerts_of(ctx, "door_left_open")
    assert [a.device_id for a in alerts] == ["door-1"]
