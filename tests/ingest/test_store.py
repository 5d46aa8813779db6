"""Batch storage on SQLite and PostgreSQL: dedupe, dead letters, unknown devices, device status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from anju.context import Context
from anju.domain import DeviceKind, EventName, Protocol
from anju.ingest.decode import StoredEvent, dead_letter, unknown_device
from anju.ingest.persist import store_batch
from anju.store.db import transaction
from anju.store.models import DeadLetter, Device, SensorEvent, UnknownDevice
from tests.support.ingest import NOW, register


def _event(device_id: str, seq: int, *, event: EventName = EventName.MOTION, **kw: object) -> StoredEvent:
    ts = NOW + timedelta(seconds=seq)
    fields: dict[str, object] = {
        "device_id": device_id,
        "household_id": "h-s",
        "kind": DeviceKind.PIR,
        "event": event,
        "seq": seq,
        "ts": ts,
        "received_at": ts,
        "event_time": ts,
    }
    fields.update(kw)
    return StoredEvent(**fields)  # type: ignore[arg-type]


async def test_batch_stores_each_message_once_across_and_within_batches(ctx: Context) -> None:
    await register(ctx.db, "h-s", [("pir-s", DeviceKind.PIR)])
    first = [_event("pir-s", 1), _event("pir-s", 2), _event("pir-s", 2)]
    async with transaction(ctx.db) as session:
        outcome = await store_batch(session, events=first)
    assert [e.seq for e in outcome.new] == [1, 2]
    assert outcome.duplicates == 1

    async with transaction(ctx.db) as session:
        outcome = await store_batch(session, events=[_event("pir-s", 2), _event("pir-s", 3)])
    assert [e.seq for e in outcome.new] == [3]
    assert outcome.duplicates == 1

    async with ctx.db() as session:
        seqs = (await session.scalars(select(SensorEvent.seq).where(SensorEvent.device_id == "pir-s"))).all()
    assert sorted(s for s in seqs if s is not None) == [1, 2, 3]


async def test_same_seq_with_new_timestamp_after_reboot_is_a_new_message(ctx: Context) -> None:
    await register(ctx.db, "h-s", [("pir-r", DeviceKind.PIR)])
    again = _event("pir-r", 1, ts=NOW + timedelta(hours=2), received_at=NOW + timedelta(hours=2))
    async with transaction(ctx.db) as session:
        outcome = await store_batch(session, events=[_event("pir-r", 1), again])
    assert len(outcome.new) == 2


async def test_device_status_follows_the_latest_new_message(ctx: Context) -> None:
    await register(ctx.db, "h-s", [("pir-d", DeviceKind.PIR)])
    beat = _event("pir-d", 5, event=EventName.HEARTBEAT, battery=71, rssi=-78, firmware="1.4.2")
    later = _event("pir-d", 6, battery=70)
    async with transaction(ctx.db) as session:
        await store_batch(session, events=[beat, later])
    async with ctx.db() as session:
        device = await session.get(Device, "pir-d")
    assert device is not None
    assert device.last_seen_at == later.received_at
    assert device.last_heartbeat_at == beat.received_at
    assert (device.battery, device.rssi, device.firmware, device.online) == (70, -78, "1.4.2", True)

    offline = replace(_event("pir-d", 7, event=EventName.OFFLINE, online=False), seq=None)
    async with transaction(ctx.db) as session:
        await store_batch(session, events=[offline])
    async with ctx.db() as session:
        device = await session.get(Device, "pir-d")
    assert device is not None
    assert device.online is False
    assert device.battery == 70, "a message without battery keeps the last known level"


async def test_dead_letters_and_unknown_devices_are_kept_with_counts(ctx: Context) -> None:
    topic = "anju/v1/ghost-1/event"
    unknown = [
        unknown_device(Protocol.ANJU_V1, "ghost-1", topic, b'{"seq":%d}' % i, NOW + timedelta(seconds=i))
        for i in range(3)
    ]
    dead = dead_letter("anju/v1/x/event", b"\xff" * 1000, NOW, "payload is not UTF-8 text", device_id="x")
    async with transaction(ctx.db) as session:
        await store_batch(session, events=[], dead_letters=[dead], unknown=unknown[:2])
    async with transaction(ctx.db) as session:
        await store_batch(session, events=[], unknown=unknown[2:])
    async with ctx.db() as session:
        row = await session.get(UnknownDevice, "ghost-1")
        letters = (await session.scalars(select(DeadLetter))).all()
        events = await session.scalar(select(func.count()).select_from(SensorEvent))
    assert row is not None
    assert row.message_count == 3
    assert (row.first_seen_at, row.last_seen_at) == (NOW, NOW + timedelta(seconds=2))
    assert row.last_payload_head == b'{"seq":2}'
    assert [(d.reason, d.payload_size, len(d.payload_head)) for d in letters] == [
        ("payload is not UTF-8 text", 1000, 256)
    ]
    assert events == 0


@pytest.mark.parametrize("ts", [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
async def test_a_press_stamped_at_the_first_or_last_instant_is_new_once_and_reads_back_the_same(
    ctx: Context, ts: datetime
) -> None:
    # Found by tests/e2e/test_hostile_mqtt_fuzz.py: asyncpg stores these instants as -infinity/infinity
    # and RETURNING gave them back naive, so the press was stored but counted as a redelivery and
    # never reached the rules (a gateway without a clock sends Go's zero time, 0001-01-01T00:00:00Z).
    await register(ctx.db, "h-s", [("btn-edge", DeviceKind.BUTTON)])
    press = _event("btn-edge", 7, event=EventName.PRESS, kind=DeviceKind.BUTTON, ts=ts, clock_skewed=True)
    async with transaction(ctx.db) as session:
        outcome = await store_batch(session, events=[press])
    assert (outcome.new, outcome.duplicates) == ([press], 0)
    async with transaction(ctx.db) as session:
        again = await store_batch(session, events=[press])
    assert (again.new, again.duplicates) == ([], 1)
    async with ctx.db() as session:
        stored = (
            await session.scalars(select(SensorEvent.ts).where(SensorEvent.device_id == "btn-edge"))
        ).all()
    assert stored == [ts]
