"""Notification latency: alarm button → Twilio request, and `undelivered` report → fallback call.

Two ways in, timed to each request's arrival at the local Twilio fake (tests/support/twilio_fake.py):

- **direct**: the real dispatch (``raise_findings`` with the shipped escalation policy, as the
  runtime does on a stored button event) and the real outbox worker (``outbox_loop``, woken by the
  bus). What Anju adds after the event is stored.
- **mqtt** (``--mqtt URL``): a real button press published with paho (QoS 1) to the broker, the
  whole live runtime (``anju.runtime.Service``: ingestor → engine → dispatch → escalation →
  outbox) and the fake. Each press is to its own household, so each opens an incident and the
  shipped critical policy pages the duty phone by SMS at once. Incidents are acknowledged within
  seconds (by a signed SMS reply `1` played against the app after each fallback, else in batches
  as an operator would), so no later escalation step adds load to the figures.

Reference columns: the bare twilio SDK sending one SMS to the same fake (what no Anju code costs),
and, with ``--mqtt``, a bare paho subscriber on the same broker (what the MQTT hop costs).

    python bench/notify_latency.py                          # SQLite, direct only, 1000 presses
    python bench/notify_latency.py --db postgresql --mqtt mqtt://127.0.0.1:1883

Only brokers on this machine (127.0.0.1 / localhost) are accepted: this is not a load test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anju.clock import RealClock, isoformat  # noqa: E402
from anju.config import Settings, load_settings  # noqa: E402
from anju.context import Context  # noqa: E402
from anju.dispatch.policy import current_policies  # noqa: E402
from anju.dispatch.service import transition  # noqa: E402
from anju.domain import DeviceKind, IncidentState, Protocol  # noqa: E402
from anju.notify import DeliveryPolicy, outbox_loop  # noqa: E402
from anju.notify.provider import Outgoing  # noqa: E402
from anju.notify.providers.twilio import TwilioProvider  # noqa: E402
from anju.runtime import MqttTarget, Service  # noqa: E402
from anju.store.db import transaction  # noqa: E402
from anju.store.migrate import upgrade  # noqa: E402
from anju.store.models import Contact, Device, Household, Incident  # noqa: E402
from tests.support.twilio_fake import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    Created,
    TwilioFake,
    harness,
    press_button,
    twilio_settings,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "bench-secret-0123456789abcdef"
#: Whole-run bound: the figures must never cost more than this.
BUDGET_S = 240
#: Report deadlines far away, so no timeout fallback mixes into the figures.
#: Presses between two acknowledgements of the incidents they opened (~5 s, well inside 60 s).
ACK_EVERY = 50
POLICY = DeliveryPolicy(sms_report_timeout_s=3600, voice_report_timeout_s=3600)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def scratch_database(db: str) -> AsyncIterator[str]:
    """A fresh, migrated database (a scratch PostgreSQL database, or a temporary SQLite file)."""
    scratch = None
    if db == "postgresql":
        scratch = f"anju_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{scratch}"')
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{scratch}"
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    try:
        await upgrade(url)
        yield url
    finally:
        if scratch:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            await conn.close()


def drain(fake: TwilioFake) -> None:
    while not fake.arrivals.empty():
        fake.arrivals.get_nowait()


async def reference(fake: TwilioFake, n: int) -> list[float]:
    """The bare SDK: request issued → arrival at the fake, no database, no worker."""
    provider = TwilioProvider(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_base=fake.url,
    )
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await provider.send_sms(
            Outgoing(
                notification_id=i,
                attempt=1,
                channel="sms",
                to="+8613800000009",  # type: ignore[arg-type]
                body="ref",
            )
        )
        out.append(fake.created[-1].arrived - t0)
    await provider.aclose()
    drain(fake)
    return out


def mqtt_reference(mqtt_url: str, n: int) -> list[float]:
    """Bare paho: QoS 1 publish → a paho subscriber's ``on_message``, on the same broker."""
    host, port = _local_broker(mqtt_url)
    topic = f"anju-bench/{uuid.uuid4().hex}/ref"
    got: dict[bytes, float] = {}
    arrived = threading.Event()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        got[msg.payload] = time.perf_counter()
        arrived.set()

    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:8]}")
    sub.on_message = on_message
    sub.connect(host, port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    pub.connect(host, port)
    pub.loop_start()
    time.sleep(0.5)  # the subscription is in place
    out = []
    try:
        for i in range(n):
            payload = str(i).encode()
            arrived.clear()
            t0 = time.perf_counter()
            pub.publish(topic, payload, qos=1)
            deadline = time.monotonic() + 5
            while payload not in got and time.monotonic() < deadline:
                arrived.wait(0.5)
                arrived.clear()
            out.append(got[payload] - t0)
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
    return out


async def direct(
    settings: Settings, fake: TwilioFake, presses: int, fallbacks: int
) -> dict[str, list[float]]:
    """raise_findings (as the pipeline calls it) → the outbox worker → the fake."""
    async with harness(settings, policy=POLICY) as env:
        homes = [hid for hid, _btn, _name in await _register(settings, presses, uuid.uuid4().hex[:8])]
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox_loop(env.ctx, stop))
        await asyncio.sleep(0.5)
        press_ms: list[float] = []
        duty_sms = []
        for hid in homes:
            t0 = time.perf_counter()
            await press_button(env.ctx, hid)  # what the pipeline does once the event is stored
            record = await fake.next_created(within_s=10)
            press_ms.append((record.arrived - t0) * 1000)
            duty_sms.append(record)
        fallback_ms: list[float] = []
        for record in duty_sms[:fallbacks]:
            t0 = time.perf_counter()
            response = await env.twilio.report(record, "undelivered", ErrorCode="30003")
            assert response.status_code == 204
            call = await fake.next_created(within_s=10)
            assert call.kind == "voice"
            fallback_ms.append((call.arrived - t0) * 1000)
        stop.set()
        await worker
    drain(fake)
    return {"direct": press_ms, "fallback": fallback_ms}


def _local_broker(mqtt_url: str) -> tuple[str, int]:
    url = urlsplit(mqtt_url)
    if url.scheme != "mqtt" or url.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"--mqtt must be a broker on this machine (mqtt://127.0.0.1:PORT), not {mqtt_url}")
    return "127.0.0.1", url.port or 1883


async def _register(settings: Settings, n: int, tag: str) -> list[tuple[str, str, str]]:
    """``n`` households, each with a kit button and one contact: (household, button, name)."""
    ctx = Context.create(settings)
    now = RealClock().now()
    homes = [(f"hb-{tag}-{i}", f"btn-{tag}-{i}", f"测试{tag}户{i}") for i in range(n)]
    try:
        async with transaction(ctx.db) as session:
            for hid, _btn, name in homes:
                session.add(
                    Household(
                        id=hid,
                        name=name,
                        address=f"上海市徐汇区测试路{len(name)}号",
                        timezone="Asia/Shanghai",
                        created_at=now,
                        updated_at=now,
                    )
                )
            await session.flush()
            for i, (hid, btn, _name) in enumerate(homes):
                session.add(
                    Device(
                        id=btn,
                        household_id=hid,
                        type=DeviceKind.BUTTON.value,
                        protocol=Protocol.ANJU_V1.value,
                        profile="anju-button",
                        created_at=now,
                    )
                )
                session.add(Contact(household_id=hid, name="李明", phone=f"+86139{i:08d}", priority=0))
    finally:
        await ctx.close()
    return homes


async def acknowledge(ctx: Context, household_ids: list[str]) -> None:
    """What the operator's click does, for the open incidents of these households, in one go."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        ids = list(
            await session.scalars(
                select(Incident.id).where(
                    Incident.household_id.in_(household_ids), Incident.state == IncidentState.OPEN.value
                )
            )
        )
        for incident_id in ids:
            await transition(
                session, incident_id, to=IncidentState.ACKNOWLEDGED, actor="bench", now=now, bus=ctx.bus
            )


async def live(
    settings: Settings, fake: TwilioFake, mqtt_url: str, presses: int, fallbacks: int
) -> dict[str, list[float]]:
    """Presses through the live runtime, two ways, interleaved: over MQTT, and raise_findings direct.

    Each press is to a household of its own, so each opens one incident and one duty SMS. The
    first ``fallbacks`` MQTT incidents also get an `undelivered` report (timed to the fallback
    call) and are acknowledged by the duty phone's SMS reply; the others are acknowledged in
    batches, as an operator would on the console, long before their next escalation step is due.
    """
    host, port = _local_broker(mqtt_url)
    tag = uuid.uuid4().hex[:8]
    homes = await _register(settings, 2 * presses, tag)
    duty = current_policies(settings.rules_dir / "escalation.toml").oncall.duty_phone
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-press-{tag}")
    pub.connect(host, port)
    pub.loop_start()
    out: dict[str, list[float]] = {"mqtt": [], "direct": [], "fallback": []}
    strays = 0
    async with harness(settings, policy=POLICY) as env:
        service = Service(env.ctx, MqttTarget(url=mqtt_url, client_id=f"bench-anju-{tag}"), serve_http=False)
        await service.start()
        try:
            assert service.ingestor is not None
            await asyncio.wait_for(service.ingestor.connected.wait(), 10)
            await asyncio.sleep(0.5)

            async def arrival(kind: str, name: str) -> Created:
                """The next request of ``kind`` for household ``name``; anything else is counted."""
                nonlocal strays
                while True:
                    record = await fake.next_created(within_s=10)
                    if (
                        record.kind == kind
                        and record.to == duty
                        and (kind == "voice" or f"{name}（" in record.body)
                    ):
                        return record
                    strays += 1

            unacknowledged: list[str] = []
            for i in range(presses):
                hid, btn, name = homes[i]
                payload = f'{{"seq":1,"ts":"{isoformat(RealClock().now())}","type":"button","event":"press"}}'
                t0 = time.perf_counter()
                info = pub.publish(f"anju/v1/{btn}/event", payload, qos=1)
                sms = await arrival("sms", name)
                out["mqtt"].append((sms.arrived - t0) * 1000)
                await asyncio.to_thread(info.wait_for_publish, 5)
                if i < fallbacks:
                    t0 = time.perf_counter()
                    response = await env.twilio.report(sms, "undelivered", ErrorCode="30003")
                    assert response.status_code == 204
                    call = await arrival("voice", name)
                    out["fallback"].append((call.arrived - t0) * 1000)
                    # The duty phone answers by SMS: the reply loop, end to end.
                    reply = await env.twilio.sms_in(duty, "1")
                    assert "已确认接警" in reply.text, reply.text
                else:
                    unacknowledged.append(hid)

                other, _btn, other_name = homes[presses + i]
                t0 = time.perf_counter()
                await press_button(env.ctx, other)  # what the pipeline does once the event is stored
                sms = await arrival("sms", other_name)
                out["direct"].append((sms.arrived - t0) * 1000)
                unacknowledged.append(other)

                if len(unacknowledged) >= ACK_EVERY or i == presses - 1:
                    # Acknowledged long before the 60 s supervisor step: no later step adds load.
                    await acknowledge(env.ctx, unacknowledged)
                    unacknowledged.clear()
            async with env.ctx.db() as session:
                acked = await session.scalar(
                    select(func.count())
                    .select_from(Incident)
                    .where(Incident.state == IncidentState.ACKNOWLEDGED.value)
                )
            assert acked == 2 * presses, f"{acked} of {2 * presses} incidents acknowledged"
        finally:
            await service.stop()
            pub.disconnect()
            pub.loop_stop()
    drain(fake)
    if strays:
        print(f"note: {strays} requests at the fake were not the awaited one", file=sys.stderr)
    return out


async def run(db: str, presses: int, fallbacks: int, mqtt_url: str | None) -> None:
    async with asyncio.timeout(BUDGET_S):
        fake = await TwilioFake().start()
        try:
            ref = [x * 1000 for x in await reference(fake, 200)]
            paho_ref = [x * 1000 for x in mqtt_reference(mqtt_url, 200)] if mqtt_url else []
            async with scratch_database(db) as url:
                if mqtt_url:
                    settings = load_settings(
                        database_url=url,
                        secret_key=SECRET,
                        mqtt_url=mqtt_url,
                        mqtt_session_expiry_s=60,
                        **twilio_settings(fake.url),
                    )
                    figures = await live(settings, fake, mqtt_url, presses, fallbacks)
                else:
                    settings = load_settings(database_url=url, secret_key=SECRET, **twilio_settings(fake.url))
                    figures = await direct(settings, fake, presses, fallbacks)
        finally:
            await fake.stop()
    where = "in the runtime" if mqtt_url else "outbox worker alone"
    print(f"database: {db}; presses: {presses}; fallbacks: {fallbacks}; broker: {mqtt_url or '-'}")
    print(f"{'figure':62} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = [("reference: bare SDK request → fake", ref)]
    if paho_ref:
        rows.append(("reference: bare paho publish → subscriber (QoS 1)", paho_ref))
    rows.append((f"raise_findings → Twilio SMS request ({where})", figures["direct"]))
    if mqtt_url:
        rows.append(("MQTT publish → Twilio SMS request (runtime)", figures["mqtt"]))
    rows.append((f"`undelivered` callback → fallback call ({where})", figures["fallback"]))
    for name, values in rows:
        print(f"{name:62} {pct(values, 0.5):8.1f} {pct(values, 0.99):8.1f} {max(values):8.1f}")
    press_ms = figures["direct"]
    print(
        f"ratio raise_findings/SDK: p50 {pct(press_ms, 0.5) / pct(ref, 0.5):.0f}x, "
        f"p99 {pct(press_ms, 0.99) / pct(ref, 0.99):.0f}x; mean {statistics.mean(press_ms):.1f} ms"
    )
    if mqtt_url:
        mqtt_ms = figures["mqtt"]
        print(
            f"ratio MQTT/raise_findings: p50 {pct(mqtt_ms, 0.5) / pct(press_ms, 0.5):.2f}x, "
            f"p99 {pct(mqtt_ms, 0.99) / pct(press_ms, 0.99):.2f}x; mean {statistics.mean(mqtt_ms):.1f} ms "
            f"(includes the ingest batch wait, ANJU_INGEST_BATCH_WAIT_MS={settings.ingest_batch_wait_ms})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--fallbacks", type=int, default=100)
    parser.add_argument(
        "--mqtt", metavar="URL", help="also time real presses through this local broker and the runtime"
    )
    args = parser.parse_args()
    if args.mqtt:
        _local_broker(args.mqtt)
    asyncio.run(run(args.db, args.presses, args.fallbacks, args.mqtt))


if __name__ == "__main__":
    main()
