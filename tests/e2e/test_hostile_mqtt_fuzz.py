"""Issue 11: hostile MQTT messages, mixed with valid ones, through the running service.

``anju run`` as a subprocess (engine, dispatch, API) on a fresh PostgreSQL database and the real
Mosquitto at 127.0.0.1:1883. The profiles are the shipped ones with every topic under a per-run
namespace (``t/fuzz-<run>/anju/v1/...``), so parallel runs and other tests on the same broker never
see each other's messages. Three publishers send, QoS 1, at least 20,000 hostile messages
(``tests/e2e/hostile.py``) interleaved with valid events of known ``seq``. Then: no stall, every valid
event stored once and handed to the rules, every hostile message exactly one dead letter (matched by
topic, first bytes and size) or, from a device nobody registered, one count in the unknown-devices
list as the contract says; the service still up and ready, no incident raised by any of it, and a
button press an open incident within 2 s.

Reproduce the figures in docs/operations.md: ``python3 -m pytest -q -s tests/e2e/test_hostile_mqtt_fuzz.py``
(``ANJU_FUZZ_SEED`` changes the seed, ``ANJU_FUZZ_HOSTILE`` raises the count).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from anju.config import PROJECT_ROOT
from anju.context import Context
from anju.domain import DeviceKind, Protocol
from anju.ingest.decode import DeadLetterRecord, Decoder, DeviceInfo, StoredEvent, UnknownDeviceRecord
from anju.ingest.profiles import load_profiles
from anju.store.models import DeadLetter, Incident, SensorEvent, UnknownDevice
from tests.e2e.hostile import Fleet, Hostile, Message, Valid, valid_messages
from tests.support.ingest import free_port, kit_payload, register, uid
from tests.support.settings import MQTT_HOST, MQTT_PORT, TEST_SECRET, make_settings

SEED = int(os.environ.get("ANJU_FUZZ_SEED", "11"))
#: Hostile messages sent; all but the unknown-device ones (1 in 23) must become dead letters.
HOSTILE = max(int(os.environ.get("ANJU_FUZZ_HOSTILE", "21000")), 21_000)
HOMES = 3
VALID_PER_DEVICE = 250
PUBLISHERS = 3
#: Longest time without a commit while messages wait before it counts as a stall.
STALL_S = 5.0
#: Every message stored within this long after the last one was published.
DRAIN_S = 60.0
KINDS = (DeviceKind.PIR, DeviceKind.DOOR, DeviceKind.BUTTON)
Z2M_PROFILE = {DeviceKind.PIR: "aqara-pir", DeviceKind.DOOR: "aqara-door", DeviceKind.BUTTON: "aqara-button"}


def namespaced_sensors(folder: Path, prefix: str) -> Path:
    """The shipped profiles with every topic template under ``prefix``."""
    folder.mkdir()
    for source in sorted((PROJECT_ROOT / "sensors").glob("*.toml")):
        text = source.read_text(encoding="utf-8")
        text = text.replace('"anju/v1/', f'"{prefix}anju/v1/').replace(
            '"zigbee2mqtt/', f'"{prefix}zigbee2mqtt/'
        )
        (folder / source.name).write_text(text, encoding="utf-8")
    return folder


def make_fleet(run: str) -> tuple[Fleet, dict[str, str]]:
    """Kit homes with a PIR, a door and a button each, one Zigbee2MQTT home, some unknown devices."""
    kit: dict[str, DeviceKind] = {}
    homes: dict[str, str] = {}
    for n in range(HOMES):
        for kind in KINDS:
            device_id = f"{run}-h{n}-{kind.value}"
            kit[device_id] = kind
            homes[device_id] = f"fz-{run}-h{n}"
    z2m = {f"{run} z2m {kind.value}": (f"{run}-z-{kind.value}", kind) for kind in KINDS}
    for device_id, _ in z2m.values():
        homes[device_id] = f"fz-{run}-z"
    fleet = Fleet(
        prefix=f"t/fuzz-{run}/",
        kit=kit,
        z2m=z2m,
        unknown_kit=[f"{run}-ghost-{i}" for i in range(40)],
        # The first is also a kit id: one unknown-devices row counts both.
        unknown_z2m=[f"{run}-ghost-0", *(f"{run} ghost/{i}" for i in range(10))],
    )
    return fleet, homes


def test_every_hostile_message_decodes_to_a_dead_letter_and_every_valid_one_to_an_event(
    tmp_path: Path,
) -> None:
    """The generator's promise, checked with the real decoder: the service test counts on it."""
    fleet, homes = make_fleet("gen")
    decoder = Decoder(load_profiles(namespaced_sensors(tmp_path / "sensors", fleet.prefix)))
    infos: dict[tuple[Protocol, str], DeviceInfo] = {}
    for device_id, kind in fleet.kit.items():
        infos[Protocol.ANJU_V1, device_id] = DeviceInfo(
            device_id=device_id,
            household_id=homes[device_id],
            kind=kind,
            protocol=Protocol.ANJU_V1,
            profile=f"anju-{kind.value}",
        )
    for name, (device_id, kind) in fleet.z2m.items():
        info = DeviceInfo(
            device_id=device_id,
            household_id=homes[device_id],
            kind=kind,
            protocol=Protocol.ZIGBEE2MQTT,
            profile=Z2M_PROFILE[kind],
            external_name=name,
        )
        infos[Protocol.ZIGBEE2MQTT, name] = infos[Protocol.ANJU_V1, device_id] = info
    now = datetime.now(UTC)
    ts_ms = int(now.timestamp() * 1000)
    hostile = Hostile(fleet, seed=SEED, ts_ms=ts_ms)
    wrong = Counter[str]()
    for m in hostile.messages(100 * len(hostile.categories)):
        decoded = decoder.decode(m.topic, m.payload, now, lambda p, k: infos.get((p, k)))
        expected = DeadLetterRecord if m.expect == "dead_letter" else UnknownDeviceRecord
        if not isinstance(decoded, expected):
            wrong[f"{m.category}: {m.payload[:60]!r} -> {type(decoded).__name__}"] += 1
        if isinstance(decoded, DeadLetterRecord):
            assert decoded.reason and decoded.reason.encode("utf-8") and "\x00" not in decoded.reason
    assert not wrong, wrong.most_common(10)
    for v in valid_messages(fleet, per_device=30, ts_ms=ts_ms, seed=SEED):
        decoded = decoder.decode(v.topic, v.payload, now, lambda p, k: infos.get((p, k)))
        assert isinstance(decoded, StoredEvent), (v.payload, decoded)
        assert (decoded.device_id, decoded.seq) == (v.device_id, v.seq)


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def start_service(pg_url: str, tmp_path: Path, fleet: Fleet, run: str) -> Running:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJU_")} | {
        "ANJU_DATABASE_URL": pg_url,
        "ANJU_MQTT_URL": f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
        "ANJU_MQTT_CLIENT_ID": f"anju-fuzz-{run}",
        # No session left on the shared broker after the test.
        "ANJU_MQTT_SESSION_EXPIRY_S": "0",
        "ANJU_SECRET_KEY": TEST_SECRET,
        "ANJU_HTTP_PORT": str(port),
        # A canary every health round (not every 30 s): it must come back through the same busy broker
        # and ingest as the fuzz, in time, all along.
        "ANJU_CANARY_INTERVAL_S": "2",
        "ANJU_SENSORS_DIR": str(namespaced_sensors(tmp_path / "sensors", fleet.prefix)),
    }
    log = tmp_path / "anju-run.log"
    proc = await asyncio.to_thread(_spawn, env, log)
    running = Running(proc, port, log)
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            assert proc.poll() is None, f"anju run exited with {proc.returncode}:\n{running.tail()}"
            try:
                if (await http.get(f"{running.base}/readyz")).status_code == 200:
                    return running
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"anju run not ready within 30 s:\n{running.tail()}"
            await asyncio.sleep(0.2)


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "anju.cli", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def stop_service(running: Running) -> int:
    if running.proc.poll() is None:
        running.proc.send_signal(signal.SIGTERM)
        try:
            running.proc.wait(30)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            running.proc.wait(10)
    return running.proc.returncode


@pytest.fixture
async def fuzz_env(
    pg_url: str, mqtt_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Context, Fleet, dict[str, str], Running]]:
    run = uid()
    fleet, homes = make_fleet(run)
    ctx = Context.create(make_settings(pg_url))
    for home in sorted(set(homes.values())):
        kit = [(d, k) for d, k in fleet.kit.items() if homes[d] == home]
        z2m = [(d, k, name) for name, (d, k) in fleet.z2m.items() if homes[d] == home]
        if kit:
            await register(ctx.db, home, kit)
        if z2m:
            await register(ctx.db, home, z2m, protocol=Protocol.ZIGBEE2MQTT)
    running = await start_service(pg_url, tmp_path, fleet, run)
    try:
        yield ctx, fleet, homes, running
    finally:
        stop_service(running)
        await ctx.close()


class Publishers:
    """A few paho clients, each on its own thread, publishing their share at QoS 1."""

    # At most ``window`` messages are out beyond what the service has stored: Mosquitto's default
    # ``max_queued_messages`` (1000) drops QoS 1 messages queued for a subscriber past that, which
    # a burst of 20,000 in two seconds would otherwise hit (the broker's loss, not Anju's).
    def __init__(self, count: int, *, window: int = 600) -> None:
        self.window = window
        self.issued = 0
        #: What the service has committed, kept current by the test's watch loop.
        self.stored = 0
        #: Set when the test fails: the sending threads stop instead of waiting for the window.
        self.abort = False
        #: Reasons the broker dropped a publisher (Mosquitto refuses, say, topics of 200+ levels).
        self.disconnects: list[str] = []
        self._lock = threading.Lock()
        self.clients = []
        for _ in range(count):
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzz-pub-{uid()}")
            client.max_inflight_messages_set(100)
            client.on_disconnect = self._on_disconnect
            client.connect(MQTT_HOST, MQTT_PORT)
            client.loop_start()
            self.clients.append(client)

    def _on_disconnect(self, *args: object) -> None:
        if not self.abort:
            self.disconnects.append(str(args[3]) if len(args) > 3 else "?")

    def send(self, index: int, messages: list[tuple[str, bytes]]) -> None:
        client = self.clients[index]
        infos = []
        for topic, payload in messages:
            while self.issued - self.stored >= self.window and not self.abort:
                time.sleep(0.002)
            if self.abort:
                return
            with self._lock:
                self.issued += 1
            infos.append(client.publish(topic, payload, qos=1))
        deadline = time.monotonic() + 30
        for info in infos:
            if self.abort:
                return
            info.wait_for_publish(max(deadline - time.monotonic(), 0.1))
            assert info.is_published(), "the broker did not acknowledge a message within 30 s"

    def close(self) -> None:
        self.abort = True
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


async def counts(ctx: Context) -> tuple[int, int, int]:
    async with ctx.db() as session:
        events = await session.scalar(select(func.count()).select_from(SensorEvent))
        dead = await session.scalar(select(func.count()).select_from(DeadLetter))
        unknown = await session.scalar(select(func.coalesce(func.sum(UnknownDevice.message_count), 0)))
    return int(events or 0), int(dead or 0), int(unknown or 0)


async def test_twenty_thousand_hostile_messages_through_the_running_service_lose_nothing(
    fuzz_env: tuple[Context, Fleet, dict[str, str], Running],
) -> None:
    ctx, fleet, homes, running = fuzz_env
    started = time.monotonic()
    ts_ms = int(time.time() * 1000)
    hostile: list[Message] = Hostile(fleet, seed=SEED, ts_ms=ts_ms).messages(HOSTILE)
    valid: list[Valid] = list(valid_messages(fleet, per_device=VALID_PER_DEVICE, ts_ms=ts_ms, seed=SEED))
    # One valid message in ten is sent twice, as a broker redelivers: stored once all the same.
    redelivered = valid[::10]
    wire = [(m.topic, m.payload) for m in hostile] + [(v.topic, v.payload) for v in valid + redelivered]
    random.Random(SEED).shuffle(wire)
    expected_dead = sum(1 for m in hostile if m.expect == "dead_letter")
    expected_unknown = len(hostile) - expected_dead
    assert expected_dead >= 20_000
    total = len(hostile) + len(valid)

    publishers = Publishers(PUBLISHERS)
    sending = [
        asyncio.create_task(asyncio.to_thread(publishers.send, i, wire[i::PUBLISHERS]))
        for i in range(PUBLISHERS)
    ]
    # Watch the commits while publishing: a stall is STALL_S without progress while messages wait.
    last_stored, last_progress, max_gap = 0, time.monotonic(), 0.0
    published_at: float | None = None
    try:
        while True:
            events, dead, unknown = await counts(ctx)
            stored = events + dead + unknown
            now = time.monotonic()
            publishers.stored = stored
            if stored > last_stored:
                last_stored, last_progress = stored, now
            elif publishers.issued > stored:
                max_gap = max(max_gap, now - last_progress)
                if now - last_progress > STALL_S:
                    stall_metrics = await _ingest_metrics(running)
                assert now - last_progress <= STALL_S, (
                    stall_metrics
                    + "\n"
                    + f"stall: no commit for {now - last_progress:.1f} s with {publishers.issued - stored} "
                    f"messages waiting ({events} events, {dead} dead letters, {unknown} unknown)\n"
                    + running.tail()
                )
            assert running.proc.poll() is None, f"anju run died:\n{running.tail()}"
            assert not publishers.disconnects, f"the broker dropped a publisher: {publishers.disconnects}"
            if published_at is None and all(t.done() for t in sending):
                published_at = now
            if published_at is not None and stored >= total:
                break
            assert published_at is None or now - published_at < DRAIN_S, (
                f"not drained {DRAIN_S} s after publishing: {stored} of {total}\n{running.tail()}"
            )
            await asyncio.sleep(0.05)
        await asyncio.gather(*sending)
    finally:
        publishers.close()
    drained_s = time.monotonic() - started
    publish_s = (published_at or time.monotonic()) - started
    await asyncio.sleep(0.5)  # nothing more may arrive: no duplicates, no stray dead letters
    assert await counts(ctx) == (len(valid), expected_dead, expected_unknown)

    async with ctx.db() as session:
        stored_events = Counter(
            (r.device_id, r.seq) for r in (await session.execute(select(SensorEvent))).scalars()
        )
        letters = (
            await session.execute(
                select(DeadLetter.topic, DeadLetter.payload_head, DeadLetter.payload_size, DeadLetter.reason)
            )
        ).all()
        unknown_rows = dict(
            (await session.execute(select(UnknownDevice.key, UnknownDevice.message_count))).all()
        )
    # Every valid event exactly once.
    assert stored_events == Counter((v.device_id, v.seq) for v in valid)
    # Every hostile message exactly one dead letter: same topic, same first bytes, same size.
    assert Counter((t, bytes(h), s) for t, h, s, _ in letters) == Counter(
        (m.topic, m.payload[:256], len(m.payload)) for m in hostile if m.expect == "dead_letter"
    )
    assert all(reason and "\x00" not in reason for *_, reason in letters)
    assert unknown_rows == Counter(m.device for m in hostile if m.expect == "unknown_device")

    async with httpx.AsyncClient(base_url=running.base, timeout=5) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        metrics = (await http.get("/metrics")).text
    assert _metric(metrics, "dead_letter") == expected_dead
    # Every stored event was handed to the rules as new (the edge timestamps once were not).
    assert _metric(metrics, "stored") == len(valid)
    assert _metric(metrics, "duplicate") == len(redelivered)

    # No hostile message raised an alarm; then a real press does, within 2 s.
    async with ctx.db() as session:
        raised = (await session.execute(select(Incident.rule, Incident.household_id))).all()
    assert not raised, f"incidents before the press: {raised}"
    button = next(d for d, kind in sorted(fleet.kit.items()) if kind is DeviceKind.BUTTON)
    home = homes[button]
    sent = time.monotonic()
    topic = fleet.kit_topic(button)
    press = kit_payload(VALID_PER_DEVICE + 1, int(time.time() * 1000), type="button", event="press")
    one = Publishers(1)
    try:
        info = one.clients[0].publish(topic, press, qos=1)
        while True:
            async with ctx.db() as session:
                incident = (
                    await session.execute(
                        select(Incident.rule, Incident.state, Incident.severity).where(
                            Incident.household_id == home
                        )
                    )
                ).first()
            if incident is not None:
                break
            assert time.monotonic() - sent < 2.0, f"no incident within 2 s of the press:\n{running.tail()}"
            await asyncio.sleep(0.01)
        press_ms = (time.monotonic() - sent) * 1000
        assert info.is_published()
    finally:
        one.close()
    assert tuple(incident) == ("button", "open", "critical")
    assert running.proc.poll() is None

    log = running.log.read_text(errors="replace")
    assert "RecursionError" not in log and "abandoned" not in log and "died" not in log, running.tail()
    by_category = Counter(m.category for m in hostile)
    print(
        "\nfuzz figures: "
        + json.dumps(
            {
                "seed": SEED,
                "hostile": len(hostile),
                "dead_letters": expected_dead,
                "unknown_device_messages": expected_unknown,
                "valid": len(valid),
                "redelivered": len(redelivered),
                "publish_s": round(publish_s, 1),
                "drain_s": round(drained_s, 1),
                "max_gap_s": round(max_gap, 2),
                "button_to_incident_ms": round(press_ms),
                "by_category": dict(sorted(by_category.items())),
            },
            ensure_ascii=False,
        )
    )
    assert stop_service(running) == 0, running.tail()


async def _ingest_metrics(running: Running) -> str:
    async with httpx.AsyncClient(base_url=running.base, timeout=5) as http:
        text = (await http.get("/metrics")).text
    return "\n".join(line for line in text.splitlines() if line.startswith("anju_ingest"))


def _metric(text: str, outcome: str) -> int:
    match = re.search(rf'^anju_ingest_messages_total\{{outcome="{outcome}"\}} (\S+)$', text, re.M)
    assert match, f"no anju_ingest_messages_total for {outcome}"
    return int(float(match.group(1)))
