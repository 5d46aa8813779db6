"""Engine snapshots: changed homes saved in short bulk upserts, and restored after a restart."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.context import Context
from anju.domain import CHECKIN_TYPE, CheckinAnswer, DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.model import Finding, Observation
from anju.store.db import is_transient_error, transaction
from anju.store.models import DeadLetter, EngineSnapshot, SensorEvent
from anju.store.safe import storable, storable_json

log = logging.getLogger("anju.runtime")

#: How often changed engine state is saved, so a restart resumes from it.
SNAPSHOT_S = 30.0
#: Homes per snapshot statement: one short transaction each, so a button press never waits long.
SNAPSHOT_CHUNK = 200
#: Events received this long before a snapshot are replayed too (a batch may have been in flight).
SNAPSHOT_MARGIN = timedelta(seconds=60)


async def save(ctx: Context, engine: Engine, ids: list[str], *, dirty: set[str]) -> int:
    """Store the state of homes ``ids``; a home not saved for a transient reason goes back to ``dirty``."""
    now = ctx.clock.now()
    watermark = engine.watermark or now
    saved = 0
    for start in range(0, len(ids), SNAPSHOT_CHUNK):
        rows = []
        for hid in ids[start : start + SNAPSHOT_CHUNK]:
            try:
                rows.append(
                    {
                        "household_id": hid,
                        "watermark": watermark,
                        "state": engine.snapshot(hid),
                        "updated_at": now,
                    }
                )
            except KeyError:
                continue
        if not rows:
            continue
        try:
            async with transaction(ctx.db) as session:
                await session.execute(_upsert_snapshots(session, rows))
            saved += len(rows)
        except Exception as err:
            if is_transient_error(err):
                dirty.update(str(row["household_id"]) for row in rows)  # saved next pass
                raise
            saved += await _save_one_by_one(ctx, rows, err, dirty=dirty)
        await asyncio.sleep(0)  # let a waiting ingest batch in between chunks
    return saved


async def _save_one_by_one(
    ctx: Context, rows: list[dict[str, Any]], err: BaseException, *, dirty: set[str]
) -> int:
    """A chunk the database refused: each home alone, so one bad state never blocks the others.

    A state that still fails is stored with its text escaped; failing that, it becomes a dead
    letter (restart then rebuilds that home from its stored events) instead of failing forever.
    """
    log.warning("saving %d engine snapshots failed (%r); saving them one by one", len(rows), err)
    saved = 0
    for row in rows:
        for attempt in (row, {**row, "state": storable_json(row["state"])}):
            try:
                async with transaction(ctx.db) as session:
                    await session.execute(_upsert_snapshots(session, [attempt]))
                saved += 1
                break
            except Exception as one_err:
                if is_transient_error(one_err):
                    dirty.add(row["household_id"])
                    raise
                last = one_err
        else:
            log.error("engine snapshot of %s not stored: %r", row["household_id"], last)
            async with transaction(ctx.db) as session:
                session.add(_snapshot_dead_letter(row["household_id"], last, now=ctx.clock.now()))
    return saved


async def restore(ctx: Context, engine: Engine) -> tuple[int, int, list[Finding]]:
    """Load the snapshots into ``engine`` and replay the events stored since them.

    Returns how many homes were restored, how many events replayed, and the findings the replay
    produced (for the caller to raise).
    """
    restored = replayed = 0
    async with ctx.db() as session:
        snaps = (await session.scalars(select(EngineSnapshot))).all()
    since: dict[str, datetime] = {}
    for snap in snaps:
        try:
            engine.restore(snap.household_id, snap.state)
        except (KeyError, ValueError) as err:
            log.warning("engine snapshot of %s not restored: %s", snap.household_id, err)
            continue
        since[snap.household_id] = snap.updated_at - SNAPSHOT_MARGIN
        restored += 1
    findings: list[Finding] = []
    if since:
        oldest = min(since.values())
        async with ctx.db() as session:
            stream = await session.stream_scalars(
                select(SensorEvent).where(SensorEvent.received_at > oldest).order_by(SensorEvent.event_time)
            )
            async for ev in stream:
                cutoff = since.get(ev.household_id)
                if cutoff is None or ev.received_at <= cutoff:
                    continue
                if ev.type == CHECKIN_TYPE:  # a resident's answer (dispatch.checkins), not a device
                    findings.extend(
                        engine.answer(ev.household_id, CheckinAnswer(ev.event), ev.event_time.timestamp())
                    )
                else:
                    findings.extend(engine.observe(_observation(ev)))
                replayed += 1
    return restored, replayed, findings


def _snapshot_dead_letter(household_id: str, err: BaseException, *, now: datetime) -> DeadLetter:
    """An engine state that cannot be saved, where operators see dead letters, with the reason."""
    return DeadLetter(
        received_at=now,
        topic=storable(f"anju/engine/{household_id}/snapshot"),
        payload_head=b"",
        payload_size=0,
        reason=storable(f"engine snapshot not saved: {type(err).__name__}: {err}", limit=2000),
        device_id=None,
    )


def _upsert_snapshots(session: AsyncSession, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT (household_id) DO UPDATE, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(EngineSnapshot).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=[EngineSnapshot.household_id],
        set_={
            "watermark": stmt.excluded.watermark,
            "state": stmt.excluded.state,
            "updated_at": stmt.excluded.updated_at,
        },
    )


def _observation(ev: SensorEvent) -> Observation:
    return Observation(
        household_id=ev.household_id,
        device_id=ev.device_id,
        kind=DeviceKind(ev.type),
        event=EventName(ev.event),
        at=ev.event_time,
        battery=ev.battery,
        rssi=ev.rssi,
    )
