"""Every write on the alarm path stores whatever text came from outside (issue 11, line 1).

Audit records, findings, engine snapshots and notification errors: NUL and lone surrogates are
escaped, never refused; a value no database can hold harms only its own row, on both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from anju import audit
from anju.clock import SimClock
from anju.context import Context
from anju.domain import Rule, Severity
from anju.engine.core import Engine
from anju.engine.model import Finding
from anju.engine.pack import load_pack
from anju.notify.outbox import fail_row
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Alert, AuditRecord, DeadLetter, EngineSnapshot, Household, Notification
from conftest import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
HOSTILE = "a\x00b\ud800c\udfff"
ESCAPED = "a\\x00b\\ud800c\\udfff"


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline]]:
    ctx = Context.create(make_settings(db_url), clock=SimClock(START))
    async with transaction(ctx.db) as session:
        for hid in ("h-w1", "h-w2", "h-w3"):
            session.add(Household(id=hid, name=hid, created_at=START, updated_at=START))
    pipe = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    try:
        yield ctx, pipe
    finally:
        await ctx.close()


async def test_an_audit_record_with_nul_and_surrogates_is_stored_escaped_and_the_chain_verifies(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, _ = pipeline
    async with transaction(ctx.db) as session:
        await audit.record(
            session,
            at=START,
            actor=HOSTILE,
            action="auth.login_failed",
            entity="user",
            entity_id=HOSTILE,
            content={"note": HOSTILE, HOSTILE: [HOSTILE, 1]},
        )
        await audit.record(session, at=START, actor="system", action="x", entity="y", entity_id=1)
    async with ctx.db() as session:
        first = await session.scalar(select(AuditRecord).order_by(AuditRecord.id).limit(1))
        checked, broken = await audit.verify(session)
    assert first is not None
    assert (first.actor, first.entity_id) == (ESCAPED, ESCAPED)
    assert first.content == {"note": ESCAPED, ESCAPED: [ESCAPED, 1]}
    assert (checked, broken) == (2, None)


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


async def test_a_notification_error_with_hostile_text_is_stored_escaped(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, _ = pipeline
    async with transaction(ctx.db) as session:
        row = Notification(
            channel="sms",
            to_address="+8613800000000",
            body="test",
            status="pending",
            created_at=START,
            updated_at=START,
        )
        session.add(row)
        await session.flush()
        row_id = row.id
    await fail_row(ctx, row_id, START, ValueError(HOSTILE), doing="preparing it", expect=("pending",))
    async with ctx.db() as session:
        stored = await session.get(Notification, row_id)
    assert stored is not None
    assert stored.status == "failed"
    assert stored.last_error == f"internal error preparing it: ValueError: {ESCAPED}"
