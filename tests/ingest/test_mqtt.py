"""The ingestor against the real Mosquitto and real databases: every message stored once, none lost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.context import Context
from anju.domain import DeviceKind, EventName, Protocol
from anju.engine.model import Observation
from anju.ingest import Ingestor, OnStored
from anju.store.models import DeadLetter, Device, SensorEvent, UnknownDevice
from tests.support.ingest import Publisher, eventually, free_port, kit_payload, register, start_mosquitto, uid
from tests.support.settings import make_settings


@pytest.fixture
async def pg_ctx(pg_url: str) -> AsyncIterator[Context]:
    context = Context.create(make_settings(pg_url, mqtt_session_expiry_s=120, ingest_batch_wait_ms=10))
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
def publisher(mqtt_url: str) -> Any:
    pub = Publisher(mqtt_url)
    yield pub
    pub.close()


class Running:
    """Starts ingestors with one client id (one persistent session) and stops them all at the end."""

    def __init__(self, ctx: Context, mqtt_url: str) -> None:
        self.ctx = ctx
        self.mqtt_url = mqtt_url
        self.client_id = f"test-ingest-{uid()}"
        self.started: list[Ingestor] = []

    async def start(self, on_stored: OnStored | None = None) -> Ingestor:
        ingestor = Ingestor(self.ctx, mqtt_url=self.mqtt_url, client_id=self.client_id, on_stored=on_stored)
        await ingestor.start()
        self.started.append(ingestor)
        await asyncio.wait_for(ingestor.connected.wait(), 10)
        return ingestor

    async def stop_all(self) -> None:
        for ingestor in self.started:
            await ingestor.stop()


@pytest.fixture
async def running(pg_ctx: Context, mqtt_url: str) -> AsyncIterator[Running]:
    handle = Running(pg_ctx, mqtt_url)
    try:
        yield handle
    finally:
        await handle.stop_all()


async def rows(ctx: Context, device_id: str) -> Sequence[SensorEvent]:
    async with ctx.db() as session:
        result = await session.scalars(
            select(SensorEvent).where(SensorEvent.device_id == device_id).order_by(SensorEvent.id)
        )
        return result.all()


async def dead_letters_for(ctx: Context, device_id: str) -> Sequence[DeadLetter]:
    async with ctx.db() as session:
        result = await session.scalars(
            select(DeadLetter).where(DeadLetter.device_id == device_id).order_by(DeadLetter.id)
        )
        return result.all()


async def test_published_kit_event_is_stored_in_postgresql_with_device_status(
    running: Running, publisher: Publisher
) -> None:
    ctx, home, door = running.ctx, f"h-{uid()}", f"door-{uid()}"
    await register(ctx.db, home, [(door, DeviceKind.DOOR)])
    await running.start()
    sent = ctx.clock.now()
    await publisher.publish(
        f"anju/v1/{door}/event", kit_payload(41, sent, type="door", event="open", battery=88)
    )
    await publisher.publish(
        f"anju/v1/{door}/heartbeat", kit_payload(42, sent, battery=87, rssi=-71, fw="1.4.2")
    )

    stored = await eventually(lambda: _at_least(rows(ctx, door), 2))
    assert [(r.event, r.seq, r.household_id, r.type) for r in stored] == [
        ("open", 41, home, "door"),
        ("heartbeat", 42, home, "door"),
    ]
    assert stored[0].ts == sent.replace(microsecond=sent.microsecond // 1000 * 1000)
    assert stored[0].clock_skewed is False
    async with ctx.db() as session:
        device = await session.get(Device, door)
    assert device is not None
    assert (device.battery, device.rssi, device.firmware, device.online) == (87, -71, "1.4.2", True)
    assert device.last_seen_at is not None and device.last_seen_at >= sent - timedelta(seconds=1)
    assert device.last_heartbeat_at == stored[1].received_at


async def test_redelivered_message_is_stored_once(running: Running, publisher: Publisher) -> None:
    ctx, pir = running.ctx, f"pir-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(pir, DeviceKind.PIR)])
    ingestor = await running.start()
    payload = kit_payload(903, ctx.clock.now(), type="pir", event="motion")
    for _ in range(3):
        await publisher.publish(f"anju/v1/{pir}/event", payload)
    await publisher.publish(
        f"anju/v1/{pir}/event", kit_payload(904, ctx.clock.now(), type="pir", event="motion")
    )

    stored = await eventually(lambda: _at_least(rows(ctx, pir), 2))
    await asyncio.sleep(0.2)
    assert [r.seq for r in await rows(ctx, pir)] == [903, 904]
    assert ingestor.stats.duplicate >= 2
    assert len(stored) == 2


async def test_message_published_while_ingestor_is_stopped_is_stored_after_restart(
    running: Running, publisher: Publisher
) -> None:
    ctx, button = running.ctx, f"btn-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(button, DeviceKind.BUTTON)])
    first = await running.start()
    await first.stop()

    await publisher.publish(
        f"anju/v1/{button}/event", kit_payload(7, ctx.clock.now(), type="button", event="press")
    )
    await asyncio.sleep(0.3)
    assert await rows(ctx, button) == []

    await running.start()
    stored = await eventually(lambda: rows(ctx, button))
    assert [(r.seq, r.event) for r in stored] == [(7, "press")]


async def test_bad_messages_are_kept_with_reasons_and_the_ingestor_keeps_storing(
    running: Running, publisher: Publisher
) -> None:
    ctx, door, ghost = running.ctx, f"door-{uid()}", f"ghost-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(door, DeviceKind.DOOR)])
    ingestor = await running.start()
    topic = f"anju/v1/{door}/event"
    now = ctx.clock.now()
    bad = [
        b'{"seq":1,"ts":',
        json.dumps({"seq": "1", "ts": 1795900931250, "type": "door", "event": "open"}).encode(),
        kit_payload(2, now, type="door", event="explode"),
        b'{"seq":3,"pad":"' + b"x" * (1024 * 1024) + b'"}',
    ]
    for payload in bad:
        await publisher.publish(topic, payload)
    await publisher.publish(f"anju/v1/{ghost}/event", kit_payload(1, now, type="pir", event="motion"))
    await publisher.publish(topic, kit_payload(4, now, type="door", event="close"))

    stored = await eventually(lambda: rows(ctx, door))
    assert [(r.seq, r.event) for r in stored] == [(4, "close")]

    async def letters() -> Sequence[DeadLetter]:
        async with ctx.db() as session:
            query = select(DeadLetter).where(DeadLetter.topic == topic).order_by(DeadLetter.id)
            return (await session.scalars(query)).all()

    kept = await eventually(lambda: _at_least(letters(), 4))
    reasons = [d.reason for d in kept]
    assert reasons[0].startswith("payload is not valid JSON")
    assert reasons[1] == "field 'seq': expected integer 0..4294967295, got string \"1\""
    assert reasons[2].startswith("field 'event': string \"explode\" is not an event of a door")
    assert reasons[3] == "payload of 1048594 bytes is over the 4096-byte limit"
    assert [d.payload_head for d in kept[:3]] == bad[:3]
    assert (kept[3].payload_size, len(kept[3].payload_head)) == (1048594, 256)

    async with ctx.db() as session:
        unknown = await session.get(UnknownDevice, ghost)
        ghost_rows = await session.scalar(select(func.count()).where(SensorEvent.device_id == ghost))
    assert unknown is not None
    assert (unknown.protocol, unknown.message_count, unknown.last_topic) == (
        "anju-v1",
        1,
        f"anju/v1/{ghost}/event",
    )
    assert ghost_rows == 0
    assert ingestor.connected.is_set()
    assert ingestor.stats.dead_letter >= 4


async def test_device_clock_off_by_more_than_five_minutes_is_flagged(
    running: Running, publisher: Publisher
) -> None:
    ctx, pir = running.ctx, f"pir-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(pir, DeviceKind.PIR)])
    await running.start()
    wrong = ctx.clock.now() - timedelta(hours=3)
    await publisher.publish(f"anju/v1/{pir}/event", kit_payload(1, wrong, type="pir", event="motion"))
    (row,) = await eventually(lambda: rows(ctx, pir))
    assert row.clock_skewed is True
    assert row.event_time == row.received_at
    assert abs(row.ts - wrong) < timedelta(milliseconds=1)


async def test_zigbee2mqtt_door_motion_button_and_availability_are_decoded(
    running: Running, publisher: Publisher
) -> None:
    ctx, tag = running.ctx, uid()
    door, pir, button = f"zdoor-{tag}", f"zpir-{tag}", f"zbtn-{tag}"
    await register(
        ctx.db,
        f"h-{tag}",
        [
            (door, DeviceKind.DOOR, f"{tag}/hall door"),
            (pir, DeviceKind.PIR, f"{tag}/bedroom"),
            (button, DeviceKind.BUTTON, f"{tag}/sos"),
        ],
        protocol=Protocol.ZIGBEE2MQTT,
    )
    await running.start()
    base = f"zigbee2mqtt/{tag}"
    await publisher.publish(
        f"{base}/hall door", '{"battery":100,"contact":false,"linkquality":153,"voltage":3035}'
    )
    await publisher.publish(f"{base}/hall door", '{"battery":100,"contact":true,"linkquality":150}')
    await publisher.publish(f"{base}/bedroom", '{"battery":96,"occupancy":true,"linkquality":86}')
    await publisher.publish(f"{base}/bedroom", '{"battery":96,"occupancy":false,"linkquality":86}')
    await publisher.publish(f"{base}/sos", '{"action":"single","battery":100,"linkquality":86}')
    await publisher.publish(f"{base}/sos/availability", '{"state":"offline"}')

    async def events(device_id: str, n: int) -> list[str] | None:
        found = [r.event for r in await rows(ctx, device_id)]
        return found if len(found) >= n else None

    assert await eventually(lambda: events(door, 2)) == ["open", "close"]
    assert await eventually(lambda: events(pir, 2)) == ["motion", "heartbeat"]
    assert await eventually(lambda: events(button, 2)) == ["press", "offline"]
    async with ctx.db() as session:
        sos = await session.get(Device, button)
        hall = await session.get(Device, door)
    assert sos is not None and hall is not None
    assert (sos.online, sos.battery, sos.rssi) == (False, 100, 86)
    assert (hall.online, hall.battery, hall.rssi) == (True, 100, 150)


async def test_device_registered_while_running_is_recognized_without_restart(
    running: Running, publisher: Publisher
) -> None:
    ctx, pir = running.ctx, f"pir-{uid()}"
    ingestor = await running.start()
    await register(ctx.db, f"h-{uid()}", [(pir, DeviceKind.PIR)])
    await publisher.publish(
        f"anju/v1/{pir}/event", kit_payload(1, ctx.clock.now(), type="pir", event="motion")
    )
    assert [r.seq for r in await eventually(lambda: rows(ctx, pir))] == [1]
    assert ingestor.registry.lookup(Protocol.ANJU_V1, pir) is not None


async def test_a_message_whose_handler_always_fails_is_isolated_as_a_dead_letter_and_the_rest_flows(
    running: Running, publisher: Publisher
) -> None:
    ctx, button, door = running.ctx, f"btn-{uid()}", f"door-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(button, DeviceKind.BUTTON), (door, DeviceKind.DOOR)])
    attempts: list[int] = []
    seen: list[Observation] = []

    async def broken_for_the_button(session: AsyncSession, observations: Sequence[Observation]) -> None:
        # Runs before the commit, in the same transaction as the insert of the events.
        if any(o.device_id == button for o in observations):
            attempts.append(len(observations))
            raise RuntimeError("engine down")
        seen.extend(o for o in observations if o.device_id == door)

    ingestor = await running.start(on_stored=broken_for_the_button)
    now = ctx.clock.now()
    await publisher.publish(f"anju/v1/{door}/event", kit_payload(1, now, type="door", event="open"))
    await publisher.publish(f"anju/v1/{button}/event", kit_payload(5, now, type="button", event="press"))
    await publisher.publish(f"anju/v1/{door}/event", kit_payload(2, now, type="door", event="close"))
    letters = await eventually(lambda: dead_letters_for(ctx, button))
    assert "button press could not be stored: RuntimeError: engine down" in letters[0].reason
    assert await rows(ctx, button) == [], "the failed transaction rolled the event back"
    assert [r.seq for r in await eventually(lambda: _at_least(rows(ctx, door), 2))] == [1, 2]
    assert [o.event for o in seen] == [EventName.OPEN, EventName.CLOSE]
    assert ingestor.stats.isolated == 1
    await eventually(lambda: _true(ingestor.stats.acked >= 3))
    assert attempts, "the handler was called for the press"


async def test_transient_failure_is_retried_and_stored_once(running: Running, publisher: Publisher) -> None:
    ctx, door = running.ctx, f"door-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(door, DeviceKind.DOOR)])
    calls = 0

    async def flaky(session: AsyncSession, observations: Sequence[Observation]) -> None:
        nonlocal calls
        if any(o.device_id == door for o in observations):
            calls += 1
            if calls <= 2:
                raise ConnectionError("database went away")

    ingestor = await running.start(on_stored=flaky)
    await publisher.publish(
        f"anju/v1/{door}/event", kit_payload(1, ctx.clock.now(), type="door", event="open")
    )
    assert [r.seq for r in await eventually(lambda: rows(ctx, door))] == [1]
    assert calls == 3
    assert ingestor.stats.failed_batches >= 2


async def test_back_pressure_pauses_reading_and_drops_nothing(
    mqtt_url: str, pg_url: str, publisher: Publisher
) -> None:
    settings = make_settings(
        pg_url,
        mqtt_session_expiry_s=120,
        ingest_queue_limit=100,
        ingest_batch_size=20,
        ingest_batch_wait_ms=5,
    )
    ctx = Context.create(settings)
    pir = f"pir-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(pir, DeviceKind.PIR)])

    async def slow(session: AsyncSession, observations: Sequence[Observation]) -> None:
        await asyncio.sleep(0.05)

    ingestor = Ingestor(ctx, mqtt_url=mqtt_url, client_id=f"test-ingest-{uid()}", on_stored=slow)
    await ingestor.start()
    try:
        await asyncio.wait_for(ingestor.connected.wait(), 10)
        now = ctx.clock.now()
        infos = [
            publisher.client.publish(
                f"anju/v1/{pir}/event",
                kit_payload(i, now + timedelta(milliseconds=i), type="pir", event="motion"),
                qos=1,
            )
            for i in range(400)
        ]
        await asyncio.to_thread(lambda: [i.wait_for_publish(20) for i in infos])

        async def all_stored() -> bool:
            async with ctx.db() as session:
                n = await session.scalar(select(func.count()).where(SensorEvent.device_id == pir))
            return n == 400

        await eventually(all_stored, within_s=30)
        assert ingestor.stats.pauses >= 1
        assert not ingestor.link.paused
        metrics = {
            s.name: s.value
            for m in ctx.metrics.registry.collect()
            for s in m.samples
            if s.name.startswith("anju_ingest")
        }
        assert metrics["anju_ingest_paused"] == 0
        assert metrics["anju_ingest_messages_total"] >= 400
    finally:
        await ingestor.stop()
        await ctx.close()


async def test_kit_event_is_stored_in_sqlite_too(
    sqlite_url: str, mqtt_url: str, publisher: Publisher
) -> None:
    ctx = Context.create(make_settings(sqlite_url, mqtt_session_expiry_s=120, ingest_batch_wait_ms=10))
    handle = Running(ctx, mqtt_url)
    try:
        button = f"btn-{uid()}"
        await register(ctx.db, f"h-{uid()}", [(button, DeviceKind.BUTTON)])
        await handle.start()
        payload = kit_payload(3, ctx.clock.now(), type="button", event="press", battery=90)
        await publisher.publish(f"anju/v1/{button}/event", payload)
        await publisher.publish(f"anju/v1/{button}/event", payload)
        (row,) = await eventually(lambda: rows(ctx, button))
        assert (row.seq, row.event, row.battery) == (3, "press", 90)
        await asyncio.sleep(0.3)
        assert len(await rows(ctx, button)) == 1
    finally:
        await handle.stop_all()
        await ctx.close()


async def _at_least(query: Any, n: int) -> Any:
    found = await query
    return found if len(found) >= n else None


async def _true(value: bool) -> bool:
    return value


async def test_ingestor_reconnects_after_a_broker_restart_and_resumes_its_session(
    pg_ctx: Context, tmp_path: Path
) -> None:
    port = free_port()
    broker = start_mosquitto(port, tmp_path)
    ctx, door = pg_ctx, f"door-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(door, DeviceKind.DOOR)])
    handle = Running(ctx, f"mqtt://127.0.0.1:{port}")
    try:
        ingestor = await handle.start()
        broker.terminate()  # mosquitto writes its sessions to disk on the way down
        broker.wait(5)
        await eventually(lambda: _true(not ingestor.connected.is_set()))
        broker = start_mosquitto(port, tmp_path)
        publisher = Publisher(f"mqtt://127.0.0.1:{port}")
        try:
            await publisher.publish(
                f"anju/v1/{door}/event", kit_payload(1, ctx.clock.now(), type="door", event="open")
            )
            stored = await eventually(lambda: rows(ctx, door), within_s=20)
        finally:
            publisher.close()
        assert [(r.seq, r.event) for r in stored] == [(1, "open")]
        assert ingestor.connected.is_set()
        assert ingestor.link.generation == 2
        assert ingestor.link.session_present, "mosquitto kept the session across its restart"
    finally:
        await handle.stop_all()
        broker.terminate()
        broker.wait(5)
