"""One batch in one transaction: events (deduplicated), dead letters, unknown devices, device status.

Functions take the caller's session and never commit: the ingestor commits once per batch, after the
handler that turns the new observations into alerts has run in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anju.domain import EventName
from anju.ingest.decode import DeadLetterRecord, StoredEvent, UnknownDeviceRecord
from anju.store.models import DeadLetter, Device, SensorEvent, UnknownDevice

EventKey = tuple[str, int | None, datetime]

_events = cast(Table, SensorEvent.__table__)
_devices = cast(Table, Device.__table__)
_unknown = cast(Table, UnknownDevice.__table__)
_dead = cast(Table, DeadLetter.__table__)

#: PostgreSQL: the whole batch as arrays, one statement, duplicates skipped by the unique constraint.
_PG_INSERT_EVENTS = text(
    """
    INSERT INTO sensor_events
        (device_id, household_id, type, event, seq, ts, received_at, event_time, clock_skewed, battery, rssi)
    SELECT * FROM unnest(
        CAST(:device_id AS varchar[]), CAST(:household_id AS varchar[]), CAST(:type AS varchar[]),
        CAST(:event AS varchar[]), CAST(:seq AS bigint[]), CAST(:ts AS timestamptz[]),
        CAST(:received_at AS timestamptz[]), CAST(:event_time AS timestamptz[]),
        CAST(:clock_skewed AS boolean[]), CAST(:battery AS integer[]), CAST(:rssi AS integer[])
    )
    ON CONFLICT ON CONSTRAINT uq_sensor_events_device_seq_ts DO NOTHING
    RETURNING device_id, seq, ts
    """
)


#: PostgreSQL: every touched device in one statement.
_PG_UPDATE_DEVICES = text(
    """
    UPDATE devices AS d SET
        last_seen_at = GREATEST(d.last_seen_at, u.seen),
        last_heartbeat_at = GREATEST(d.last_heartbeat_at, u.heartbeat),
        battery = COALESCE(u.battery, d.battery),
        rssi = COALESCE(u.rssi, d.rssi),
        firmware = COALESCE(u.fw, d.firmware),
        online = u.online
    FROM unnest(
        CAST(:b_id AS varchar[]), CAST(:seen AS timestamptz[]), CAST(:heartbeat AS timestamptz[]),
        CAST(:battery AS integer[]), CAST(:rssi AS integer[]), CAST(:fw AS varchar[]),
        CAST(:online AS boolean[])
    ) AS u(id, seen, heartbeat, battery, rssi, fw, online)
    WHERE d.id = u.id
    """
)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    new: list[StoredEvent]
    duplicates: int


async def store_batch(
    session: AsyncSession,
    *,
    events: Sequence[StoredEvent],
    dead_letters: Sequence[DeadLetterRecord] = (),
    unknown: Sequence[UnknownDeviceRecord] = (),
) -> BatchOutcome:
    """Write one batch; returns the events that were new (not redeliveries), in arrival order."""
    unique: dict[EventKey, StoredEvent] = {}
    for event in events:
        unique.setdefault(event.key, event)
    inserted = await insert_events(session, list(unique.values())) if unique else set()
    new = [event for key, event in unique.items() if key in inserted]
    if dead_letters:
        await insert_dead_letters(session, dead_letters)
    if unknown:
        await upsert_unknown_devices(session, unknown)
    if new:
        await update_devices(session, new)
    return BatchOutcome(new=new, duplicates=len(events) - len(new))


async def insert_events(session: AsyncSession, events: Sequence[StoredEvent]) -> set[EventKey]:
    """Insert, skipping rows already stored; returns the keys of the rows actually inserted."""
    if session.get_bind().dialect.name == "postgresql":
        params: dict[str, list[Any]] = {
            "device_id": [e.device_id for e in events],
            "household_id": [e.household_id for e in events],
            "type": [e.kind.value for e in events],
            "event": [e.event.value for e in events],
            "seq": [e.seq for e in events],
            "ts": [e.ts for e in events],
            "received_at": [e.received_at for e in events],
            "event_time": [e.event_time for e in events],
            "clock_skewed": [e.clock_skewed for e in events],
            "battery": [e.battery for e in events],
            "rssi": [e.rssi for e in events],
        }
        result = await session.execute(_PG_INSERT_EVENTS, params)
        # asyncpg writes the first and last instant a datetime holds (a device clock at Go's zero
        # time "0001-01-01T00:00:00Z") as -infinity/infinity and reads them back naive: without
        # the UTC the key would not match, and a stored button press would pass for a redelivery.
        return {(row[0], row[1], _aware(row[2])) for row in result}
    stmt = (
        sqlite_insert(_events)
        .on_conflict_do_nothing(index_elements=["device_id", "seq", "ts"])
        .returning(_events.c.device_id, _events.c.seq, _events.c.ts)
    )
    result = await session.execute(stmt, [_event_row(e) for e in events])
    return {(row[0], row[1], row[2]) for row in result}


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _event_row(e: StoredEvent) -> dict[str, Any]:
    return {
        "device_id": e.device_id,
        "household_id": e.household_id,
        "type": e.kind.value,
        "event": e.event.value,
        "seq": e.seq,
        "ts": e.ts,
        "received_at": e.received_at,
        "event_time": e.event_time,
        "clock_skewed": e.clock_skewed,
        "battery": e.battery,
        "rssi": e.rssi,
    }


async def insert_dead_letters(session: AsyncSession, records: Sequence[DeadLetterRecord]) -> None:
    await session.execute(
        insert(_dead),
        [
            {
                "received_at": r.received_at,
                "topic": r.topic,
                "payload_head": r.payload_head,
                "payload_size": r.payload_size,
                "reason": r.reason,
                "device_id": r.device_id,
            }
            for r in records
        ],
    )


async def upsert_unknown_devices(session: AsyncSession, records: Sequence[UnknownDeviceRecord]) -> None:
    """One row per unknown identity: first and last seen, how often, and the latest message."""
    merged: dict[str, dict[str, Any]] = {}
    for r in records:
        row = merged.get(r.key)
        if row is None:
            merged[r.key] = {
                "key": r.key,
                "protocol": r.protocol.value,
                "first_seen_at": r.received_at,
                "last_seen_at": r.received_at,
                "message_count": 1,
                "last_topic": r.topic,
                "last_payload_head": r.payload_head,
            }
        else:
            row.update(last_seen_at=r.received_at, last_topic=r.topic, last_payload_head=r.payload_head)
            row["message_count"] += 1
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(_unknown)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "protocol": stmt.excluded.protocol,
            "last_seen_at": stmt.excluded.last_seen_at,
            "message_count": _unknown.c.message_count + stmt.excluded.message_count,
            "last_topic": stmt.excluded.last_topic,
            "last_payload_head": stmt.excluded.last_payload_head,
        },
    )
    # Sorted keys: concurrent ingest workers then lock rows in the same order (no deadlock).
    await session.execute(stmt, [merged[key] for key in sorted(merged)])


async def update_devices(session: AsyncSession, events: Sequence[StoredEvent]) -> None:
    """Keep each device's last seen, last heartbeat, battery, signal, firmware and online current."""
    status: dict[str, dict[str, Any]] = {}
    for e in events:
        row = status.setdefault(
            e.device_id,
            {
                "b_id": e.device_id,
                "seen": None,
                "heartbeat": None,
                "battery": None,
                "rssi": None,
                "fw": None,
                "online": True,
            },
        )
        if row["seen"] is None or e.received_at >= row["seen"]:
            row["seen"] = e.received_at
            row["online"] = e.online
        if e.event is EventName.HEARTBEAT and (row["heartbeat"] is None or e.received_at > row["heartbeat"]):
            row["heartbeat"] = e.received_at
        for column, value in (("battery", e.battery), ("rssi", e.rssi), ("fw", e.firmware)):
            if value is not None:
                row[column] = value
    ordered = [status[key] for key in sorted(status)]
    if session.get_bind().dialect.name == "postgresql":
        columns = ("b_id", "seen", "heartbeat", "battery", "rssi", "fw", "online")
        await session.execute(_PG_UPDATE_DEVICES, {c: [row[c] for row in ordered] for c in columns})
        return
    stmt = (
        update(_devices)
        .where(_devices.c.id == bindparam("b_id"))
        .values(
            last_seen_at=bindparam("seen"),
            last_heartbeat_at=func.coalesce(
                bindparam("heartbeat", type_=_devices.c.last_heartbeat_at.type), _devices.c.last_heartbeat_at
            ),
            battery=func.coalesce(bindparam("battery", type_=_devices.c.battery.type), _devices.c.battery),
            rssi=func.coalesce(bindparam("rssi", type_=_devices.c.rssi.type), _devices.c.rssi),
            firmware=func.coalesce(bindparam("fw", type_=_devices.c.firmware.type), _devices.c.firmware),
            online=bindparam("online"),
        )
    )
    await session.execute(stmt, ordered)
