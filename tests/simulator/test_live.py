"""The simulator live: the fleet registered in the database, published to the real Mosquitto in
accelerated time, and every message accepted by the real ingestor but the deliberately malformed."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from anju import cli
from anju.clock import RealClock, SimClock
from anju.context import Context
from anju.ingest.broker import EmbeddedBroker
from anju.ingest.ingestor import Ingestor
from anju.simulator import build_fleet, load_scenario, register_fleet, run_live
from anju.simulator.devices import Message
from anju.simulator.fleet import ZIGBEE, Fleet
from anju.store.db import create_engine, session_factory, transaction
from anju.store.migrate import upgrade
from anju.store.models import DeadLetter, Device, Household, SensorEvent, UnknownDevice
from tests.support.settings import make_settings

TZ = ZoneInfo("Asia/Shanghai")


def _morning() -> datetime:
    """The last 09:00 in Shanghai: the simulated day starts with residents up and about."""
    now = RealClock().now().astimezone(TZ)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine <= now else nine - timedelta(days=1)


def _fleet() -> Fleet:
    return build_fleet(6, seed=21, id_prefix=f"t{uuid.uuid4().hex[:8]}-")


async def test_registering_a_fleet_twice_adds_it_once(db_url: str) -> None:
    ctx = Context.create(make_settings(db_url))
    fleet = _fleet()
    try:
        now = RealClock().now()
        async with transaction(ctx.db) as session:
            first = await register_fleet(session, fleet, now)
        async with transaction(ctx.db) as session:
            again = await register_fleet(session, fleet, now)
        async with ctx.db() as session:
            ids = [h.id for h in fleet.households]
            homes = await session.scalar(select(func.count()).where(Household.id.in_(ids)))
            devices = await session.scalar(select(func.count()).where(Device.household_id.in_(ids)))
            zigbee = await session.scalars(select(Device.external_name).where(Device.protocol == ZIGBEE))
        assert first == len(fleet.households) + len(fleet.devices)
        assert again == 0
        assert homes == len(fleet.households) and devices == len(fleet.devices)
        assert {d.external_name for d in fleet.devices if d.protocol == ZIGBEE} <= set(zigbee)
    finally:
        await ctx.close()


async def test_live_run_is_stored_by_the_ingestor_except_the_deliberately_malformed(
    db_url: str, mqtt_url: str
) -> None:
    ctx = Context.create(make_settings(db_url, mqtt_session_expiry_s=60, ingest_batch_wait_ms=10))
    fleet = _fleet()
    base = load_scenario("default").scaled(30.0)
    scenario = dataclasses.replace(base, faults=dataclasses.replace(base.faults, malformed=0.02))
    ids = [h.id for h in fleet.households]
    names = {d.id for d in fleet.devices} | {d.external_name for d in fleet.devices if d.external_name}
    async with transaction(ctx.db) as session:
        await register_fleet(session, fleet, RealClock().now())
    ingestor = Ingestor(ctx, mqtt_url=mqtt_url, client_id=f"test-sim-ingest-{uuid.uuid4().hex[:8]}")
    await ingestor.start()
    sent: list[Message] = []
    try:
        await asyncio.wait_for(ingestor.connected.wait(), 10)
        stats = await run_live(
            fleet,
            mqtt_url=mqtt_url,
            speed=1800.0,
            clock=SimClock(_morning(), speed=1800.0),
            stop=asyncio.Event(),
            scenario=scenario,
            duration_s=4 * 3600,
            on_message=sent.append,
            retain_availability=False,
        )
        delivered = [m for m in sent if m.delivered]
        malformed = [m for m in delivered if m.malformed]
        good = [m for m in delivered if not m.malformed]
        # The server stores a redelivered kit message (same device, seq and ts) once.
        expected = len({(m.device.id, m.seq, round((m.ts or 0) * 1000)) for m in good if m.seq is not None})
        expected += sum(1 for m in good if m.seq is None)
        assert stats.published == len(delivered) and stats.acked == stats.published
        assert malformed and len(good) > 200
        assert {m.device.protocol for m in good} == {"anju-v1", "zigbee2mqtt"}

        async def counts() -> tuple[int, Counter[str], int]:
            async with ctx.db() as session:
                stored = await session.scalar(select(func.count()).where(SensorEvent.household_id.in_(ids)))
                dead = await session.scalars(select(DeadLetter.topic).where(DeadLetter.device_id.in_(names)))
                unknown = await session.scalar(select(func.count()).where(UnknownDevice.key.in_(names)))
            return stored or 0, Counter(dead), unknown or 0

        for _ in range(300):
            stored, dead, unknown = await counts()
            if stored >= expected and sum(dead.values()) >= len(malformed):
                break
            await asyncio.sleep(0.1)
        assert stored == expected
        assert dead == Counter(m.topic for m in malformed)
        assert unknown == 0
    finally:
        await ingestor.stop()
        await ctx.close()


def test_anju_simulate_registers_the_fleet_then_publishes_live(mqtt_url: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'anju.db'}"
    asyncio.run(upgrade(url))
    prefix = f"c{uuid.uuid4().hex[:8]}-"
    argv = ["simulate", "--mqtt", mqtt_url, "--households", "3", "--speed", "3600", "--duration", "3600"]
    argv += ["--mix", "kit_only"]  # no retained Zigbee2MQTT availability left on the shared broker
    argv += ["--database-url", url, "--id-prefix", prefix, "--truth", str(tmp_path / "truth.jsonl")]
    assert cli.main(argv) == 0
    assert cli.main(argv) == 0  # a second run registers nothing new and publishes again

    async def homes() -> list[str]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return list(
                    await session.scalars(select(Household.id).where(Household.id.like(f"{prefix}%")))
                )
        finally:
            await engine.dispose()

    assert sorted(asyncio.run(homes())) == [f"{prefix}h0000{i}" for i in (1, 2, 3)]


def test_anju_simulate_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--out", str(tmp_path), "--households", "4", "--days", "1", "--seed", "3"]
    assert cli.main([*argv, "--workers", "2"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"events.csv", "truth.jsonl", "fleet.json"}
    assert "events/s" in capsys.readouterr().out


async def test_demo_fleet_publishes_to_the_embedded_broker_with_credentials() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = EmbeddedBroker(port=port, users={"sim": "sim-pw"})
    await broker.start()
    try:
        stats = await run_live(
            build_fleet(8, seed=1),
            mqtt_url=broker.url,
            clock=SimClock(_morning()),
            stop=asyncio.Event(),
            protocol="v311",
            username="sim",
            password="sim-pw",
            scenario="demo",
            duration_s=2 * 3600,
        )
    finally:
        await broker.stop()
    assert stats.published > 100 and stats.acked == stats.published


async def test_live_run_carries_on_after_the_broker_restarts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = EmbeddedBroker(port=port, users={"sim": "sim-pw"})
    await broker.start()
    run = asyncio.create_task(
        run_live(
            build_fleet(20, seed=2, mix="kit_only"),
            mqtt_url=broker.url,
            clock=SimClock(_morning(), speed=900.0),
            speed=900.0,
            stop=asyncio.Event(),
            username="sim",
            password="sim-pw",
            duration_s=1.5 * 3600,
        )
    )
    try:
        await asyncio.sleep(1.5)
        await broker.stop()
        await asyncio.sleep(1.0)
        broker = EmbeddedBroker(port=port, users={"sim": "sim-pw"})
        await broker.start()
        stats = await asyncio.wait_for(run, 60)
    finally:
        await broker.stop()
    # The publisher reconnected by itself and every message was acknowledged in the end.
    assert stats.published > 300 and stats.acked == stats.published
