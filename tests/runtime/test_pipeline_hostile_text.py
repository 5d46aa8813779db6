"""Findings and engine snapshots store text from outside escaped, or lose only their own row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from anju.context import Context
from anju.domain import Rule, Severity
from anju.engine.model import Finding
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Alert, DeadLetter, EngineSnapshot
from tests.support.hostile_text import ESCAPED, HOSTILE, START, three_homes_pipeline


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline]]:
    async with three_homes_pipeline(db_url) as running:
        yield running


def _press(household_id: str, key: str, **detail: object) -> Finding:
    return Finding(
        household_id=household_id,
        rule=Rule.BUTTON,
        severity=Severity.CRITICAL,
        at=START,
        key=key,
        detail=dict(detail),
        device_id=None,
    )


async def test_a_finding_carrying_hostile_text_is_raised_escaped_beside_the_others(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, pipe = pipeline
    async with transaction(ctx.db) as session:
        await pipe.raise_(session, [_press("h-w1", "k-hostile", note=HOSTILE), _press("h-w2", "k-ok")])
    async with ctx.db() as session:
        alerts = {a.key: a for a in (await session.scalars(select(Alert))).all()}
        dead = (await session.scalars(select(DeadLetter))).all()
    assert set(alerts) == {"k-hostile", "k-ok"}
    assert alerts["k-hostile"].detail["note"] == ESCAPED
    assert dead == []


async def test_an_engine_state_the_database_refuses_is_escaped_or_dead_lettered_and_the_rest_saved(
    pipeline: tuple[Context, Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, pipe = pipeline
    assert await pipe.configure_from_db() == 3
    real = pipe.engine.snapshot

    def snapshot(household_id: str) -> dict[str, Any]:
        state = real(household_id)
        if household_id == "h-w1":
            return {**state, "note": HOSTILE}  # text PostgreSQL refuses
        if household_id == "h-w2":
            return {**state, "bad": object()}  # a value no JSON column can hold
        return state

    monkeypatch.setattr(pipe.engine, "snapshot", snapshot)
    saved = await pipe.save_snapshots(everything=True)
    async with ctx.db() as session:
        rows = {s.household_id: s for s in (await session.scalars(select(EngineSnapshot))).all()}
        dead = (await session.scalars(select(DeadLetter))).all()
    assert saved == 2
    assert set(rows) == {"h-w1", "h-w3"}
    assert rows["h-w1"].state["note"] in (HOSTILE, ESCAPED)  # SQLite keeps it as is, PostgreSQL escaped
    assert [(d.topic, d.reason.split(":")[0]) for d in dead] == [
        ("anju/engine/h-w2/snapshot", "engine snapshot not saved")
    ]
    # The next save is not blocked by the state that failed.
    monkeypatch.setattr(pipe.engine, "snapshot", real)
    assert await pipe.save_snapshots(everything=True) == 3
