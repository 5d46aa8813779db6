"""Hardening: one finding that cannot be stored never blocks the alarms of every other home."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.domain import Rule, Severity
from anju.engine.core import Engine
from anju.engine.model import Finding
from anju.engine.pack import load_pack
from anju.runtime import Pipeline
from anju.store.db import after_commit, transaction
from anju.store.models import Alert, DeadLetter, Household, Incident
from tests.support.settings import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline]]:
    ctx = Context.create(make_settings(db_url), clock=SimClock(START))
    async with transaction(ctx.db) as session:
        for hid in ("h-ok", "h-two"):
            session.add(Household(id=hid, name=hid, created_at=START, updated_at=START))
    pipe = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    try:
        yield ctx, pipe
    finally:
        await ctx.close()


def press(household_id: str, key: str, **detail: object) -> Finding:
    return Finding(
        household_id=household_id,
        rule=Rule.BUTTON,
        severity=Severity.CRITICAL,
        at=START,
        key=key,
        detail=dict(detail),
    )


async def test_non_finite_numbers_in_a_finding_detail_are_stored_as_null(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, pipe = pipeline
    finding = press("h-ok", "k-nan", ratio=math.nan, peak=math.inf, low=-math.inf, when=START, ok=1.5)
    async with transaction(ctx.db) as session:
        await pipe.raise_(session, [finding])
    async with ctx.db() as session:
        alert = await session.scalar(select(Alert).where(Alert.key == "k-nan"))
        dead = (await session.scalars(select(DeadLetter))).all()
    assert alert is not None
    assert alert.detail == {"ratio": None, "peak": None, "low": None, "when": str(START), "ok": 1.5}
    assert dead == []


async def test_a_finding_that_always_fails_becomes_a_dead_letter_and_the_others_are_raised(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, pipe = pipeline
    poison = press("h-gone", "k-poison")  # its household row does not exist
    good = press("h-ok", "k-good")
    committed: list[str] = []
    async with transaction(ctx.db) as session:
        # A callback registered before the savepoints must survive their rollback.
        after_commit(session, lambda: committed.append("before"))
        await pipe.raise_(session, [poison, good])
    assert committed == ["before"]
    assert pipe._unraised == []  # nothing carried into the next batch forever

    # The next batch is not blocked by the poison finding.
    async with transaction(ctx.db) as session:
        await pipe.raise_(session, [press("h-two", "k-next")])
    assert pipe._unraised == []

    async with ctx.db() as session:
        keys = set((await session.scalars(select(Alert.key))).all())
        incidents = set((await session.scalars(select(Incident.household_id))).all())
        dead = (await session.scalars(select(DeadLetter))).all()
    assert keys == {"k-good", "k-next"}
    assert incidents == {"h-ok", "h-two"}
    assert len(dead) == 1
    assert dead[0].topic == "anju/engine/h-gone/button"
    stored = json.loads(dead[0].payload_head)
    assert stored["household_id"] == "h-gone" and stored["key"] == "k-poison"
    assert dead[0].reason


async def test_a_connection_failure_while_raising_is_retried_not_dead_lettered(
    pipeline: tuple[Context, Pipeline],
) -> None:
    from sqlalchemy.exc import OperationalError

    ctx, pipe = pipeline
    finding = press("h-ok", "k-retry")
    with pytest.raises(OperationalError):
        async with transaction(ctx.db) as session:
            raise_findings = pipe._raise_findings

            async def _drop(*args: object, **kwargs: object) -> object:
                raise OperationalError("SELECT 1", {}, ConnectionResetError("connection reset"))

            pipe._raise_findings = _drop  # type: ignore[method-assign]
            try:
                await pipe.raise_(session, [finding])
            finally:
                pipe._raise_findings = raise_findings  # type: ignore[method-assign]
    assert pipe._unraised == [finding]
    async with transaction(ctx.db) as session:
        await pipe.raise_(session, [])
    assert pipe._unraised == []
    async with ctx.db() as session:
        assert (await session.scalars(select(Alert.key))).all() == ["k-retry"]
        assert (await session.scalars(select(DeadLetter))).all() == []


async def test_the_savepoints_commit_nothing_when_the_outer_transaction_rolls_back(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, pipe = pipeline
    with pytest.raises(RuntimeError, match="batch failed"):
        async with transaction(ctx.db) as session:
            await pipe.raise_(session, [press("h-gone", "k-p"), press("h-ok", "k-rolled-back")])
            raise RuntimeError("batch failed after the findings were raised")
    async with ctx.db() as session:
        assert (await session.scalars(select(Alert))).all() == []
        assert (await session.scalars(select(DeadLetter))).all() == []
