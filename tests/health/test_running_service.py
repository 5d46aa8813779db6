"""Health that tells the truth: /readyz, metrics and the supervisor's incident, on the running service.

Each test runs the real runtime (``anju.runtime.Service``: ingest, engine, dispatch, outbox, HTTP)
with short health settings, against a real Mosquitto (a private one where the test kills or
restricts it) and a real database, with the Twilio fake as the SMS provider, and breaks one part of
the alarm path for real: the broker killed, the events table locked in PostgreSQL, the canary
refused by the broker's ACL, the database's TCP path cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from anju.audit import verify_chain
from anju.clock import Clock, RealClock, SimClock
from anju.context import Context
from anju.dispatch.policy import current_policies
from anju.domain import DeviceKind, IncidentState
from anju.health.incident import ALARM_PATH_RULE, PAGE_STEP, RECOVERY_STEP, SYSTEM_HOUSEHOLD
from anju.runtime import MqttTarget, Service
from anju.store.models import AuditRecord, Incident, IncidentEvent, IngestCanary, Notification, SensorEvent
from tests.support.ingest import Publisher, eventually, free_port, kit_payload, register, uid
from tests.support.settings import make_settings
from tests.support.twilio_fake import Created, TwilioFake, twilio_settings

SUPERVISOR_PHONE = current_policies().oncall.supervisor_phone
#: Seconds, not the production half-minutes: the same behaviour, in a test's time.
FAST: dict[str, Any] = {
    "health_interval_s": 0.25,
    "health_stall_s": 2.0,
    "canary_interval_s": 1.0,
    "canary_deadline_s": 1.5,
    "health_page_after_s": 0.5,
    "health_recover_s": 1.0,
}


@dataclass
class Live:
    """The running service, its HTTP address and the Twilio fake it sends through."""

    ctx: Context
    service: Service
    http: httpx.AsyncClient
    fake: TwilioFake

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        response = await self.http.get("/readyz")
        return response.status_code, response.json()

    async def until_check(self, name: str, ok: bool, within_s: float) -> dict[str, Any]:
        """Polls /readyz until check ``name`` is ``ok``; returns the body."""

        async def probe() -> dict[str, Any] | None:
            code, body = await self.readyz()
            return body if body["checks"].get(name) is ok and (code == 200) is body["ready"] else None

        found: dict[str, Any] = await eventually(probe, within_s=within_s, interval=0.05)
        return found

    async def until_ready(self, within_s: float) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            code, body = await self.readyz()
            return body if code == 200 else None

        found: dict[str, Any] = await eventually(probe, within_s=within_s, interval=0.05)
        return found

    async def metric(self, name: str, **labels: str) -> float | None:
        text = (await self.http.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return None

    async def until_metric(self, name: str, value: float, within_s: float = 5.0, **labels: str) -> None:
        async def probe() -> bool:
            return await self.metric(name, **labels) == value

        await eventually(probe, within_s=within_s)

    async def alarm_path_incidents(self) -> list[Incident]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(Incident).where(Incident.rule == ALARM_PATH_RULE).order_by(Incident.id)
                )
            )

    async def until_incident(self, *, state: IncidentState | None = None, within_s: float = 10.0) -> Incident:
        async def probe() -> Incident | None:
            rows = await self.alarm_path_incidents()
            return next((i for i in rows if state is None or i.state == state.value), None)

        found: Incident = await eventually(probe, within_s=within_s)
        return found

    async def timeline(self, incident_id: int) -> list[IncidentEvent]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(IncidentEvent)
                    .where(IncidentEvent.incident_id == incident_id)
                    .order_by(IncidentEvent.id)
                )
            )

    async def audit_actions(self, incident_id: int) -> list[str]:
        async with self.ctx.db() as session:
            records = list(await session.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        return [r.action for r in records if r.entity == "incident" and r.entity_id == str(incident_id)]

    async def pages(self, incident_id: int) -> list[Notification]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(Notification)
                    .where(Notification.incident_id == incident_id)
                    .order_by(Notification.id)
                )
            )

    async def sms_to_supervisor(self, contains: str, within_s: float = 10.0) -> Created:
        async def probe() -> Created | None:
            return next((c for c in self.fake.of("sms", SUPERVISOR_PHONE) if contains in c.body), None)

        found: Created = await eventually(probe, within_s=within_s)
        return found


@contextlib.asynccontextmanager
async def running(
    db_url: str, mqtt_url: str, *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[Live]:
    """``anju run`` in this loop: the whole runtime with HTTP, short health settings, the Twilio fake."""
    fake = await TwilioFake().start()
    port = free_port()
    settings = make_settings(
        db_url,
        mqtt_url=mqtt_url,
        http_port=port,
        mqtt_session_expiry_s=30,
        ingest_batch_wait_ms=10,
        **{**FAST, **overrides},
        **twilio_settings(fake.url),
    )
    ctx = Context.create(settings, clock=clock or RealClock())
    service = Service(ctx, MqttTarget(url=mqtt_url, client_id=f"test-health-{uid()}"))
    try:
        await service.start()
        await asyncio.wait_for(service.ingestor.connected.wait(), 10)
        for _ in range(250):
            if service.http is not None and service.http.started:
                break
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield Live(ctx, service, http, fake)
    finally:
        await service.stop()
        await ctx.close()
        await fake.stop()


def _mosquitto(port: int, workdir: Path, acl: str | None = None) -> subprocess.Popen[bytes]:
    """A private Mosquitto on ``port`` (persistent, optionally with an ACL file for anonymous clients)."""
    conf = workdir / f"mosquitto-{port}.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence true"]
    lines.append(f"persistence_location {workdir}/")
    if acl is not None:
        (workdir / "acl").write_text(acl)
        lines.append(f"acl_file {workdir / 'acl'}")
    if os.geteuid() == 0:  # as root it would switch to user "mosquitto" and fail to write the folder
        lines.append(f"user {getpass.getuser()}")
    conf.write_text("\n".join(lines) + "\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("mosquitto did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


async def _assert_recovery_recorded(live: Live, incident_id: int, failed: str) -> None:
    """Resolved by the system, the recovery on the timeline and the audit trail, the chain intact."""
    incident = await live.until_incident(state=IncidentState.RESOLVED, within_s=20)
    assert incident.id == incident_id and incident.outcome == "device_fault"
    kinds = [e.kind for e in await live.timeline(incident_id)]
    assert kinds[:2] == ["opened", "alarm_path_degraded"]
    assert kinds[-3:] == ["alarm_path_recovered", "transition", "transition"]  # acknowledged, resolved
    recovered = next(e for e in await live.timeline(incident_id) if e.kind == "alarm_path_recovered")
    assert failed in recovered.data["checks"] and recovered.data["duration_s"] > 0
    actions = await live.audit_actions(incident_id)
    assert "incident.alarm_path_degraded" in actions and "incident.alarm_path_recovered" in actions
    assert actions[-2:] == ["incident.transition", "incident.transition"]
    steps = [n.step for n in await live.pages(incident_id)]
    assert steps == [PAGE_STEP, RECOVERY_STEP]  # one page per episode, then the all-clear
    await live.sms_to_supervisor("报警链路已恢复")
    async with live.ctx.db() as session:
        _count, broken, _head = await verify_chain(session)
    assert broken is None


async def test_readyz_is_true_when_healthy_and_a_killed_broker_turns_it_false_until_it_is_back(
    sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    broker = _mosquitto(port, tmp_path)
    try:
        async with running(sqlite_url, f"mqtt://127.0.0.1:{port}") as live:
            body = await live.until_ready(within_s=5)
            assert body["checks"] == {"database": True, "mqtt": True, "ingest": True, "canary": True}
            assert body["reasons"] == {}

            async def canary_stored() -> bool:
                async with live.ctx.db() as session:
                    row = await session.get(IngestCanary, live.service.ingestor.client_id)
                return row is not None

            await eventually(canary_stored, within_s=5)
            for check in ("database", "mqtt", "ingest", "canary"):
                await live.until_metric("anju_alarm_path_healthy", 1, check=check)

            killed = time.monotonic()
            broker.kill()
            broker.wait(5)
            body = await live.until_check("mqtt", False, within_s=5)
            to_false = time.monotonic() - killed
            assert body["ready"] is False
            assert f"not connected to the MQTT broker 127.0.0.1:{port}" in body["reasons"]["mqtt"]
            await live.until_metric("anju_alarm_path_healthy", 0, check="mqtt")
            assert await live.metric("anju_alarm_path_degradations_total", check="mqtt") == 1

            incident = await live.until_incident(state=IncidentState.OPEN)
            assert incident.household_id == SYSTEM_HOUSEHOLD and incident.severity == "high"
            sms = await live.sms_to_supervisor("报警链路异常")
            paged = time.monotonic() - killed
            assert f"事件#{incident.id}" in sms.body and "MQTT 消息服务器未连接" in sms.body
            assert "回复1" in sms.body

            await asyncio.sleep(1.0)  # four more evaluations while degraded: still one incident, one page
            broker = _mosquitto(port, tmp_path)
            restarted = time.monotonic()
            await live.until_ready(within_s=10)
            to_ready = time.monotonic() - restarted
            await live.until_metric("anju_alarm_path_healthy", 1, check="mqtt")
            await _assert_recovery_recorded(live, incident.id, "mqtt")
            assert [i.id for i in await live.alarm_path_incidents()] == [incident.id]
            print(
                f"\nFIGURES broker kill -> readyz false {to_false:.2f} s; -> supervisor SMS {paged:.2f} s; "
                f"broker restart -> readyz true {to_ready:.2f} s"
            )
    finally:
        _stop(broker)


async def test_an_ingest_stalled_on_a_locked_postgresql_table_pages_the_supervisor_and_recovers(
    pg_url: str, mqtt_url: str
) -> None:
    hid, pir = f"h-{uid()}", f"pir-{uid()}"
    # The canary waits behind the stuck batch too; a later deadline lets the stall be what pages.
    async with running(pg_url, mqtt_url, canary_deadline_s=6.0) as live:
        await register(live.ctx.db, hid, [(pir, DeviceKind.PIR)])
        await live.service.ingestor.reload()
        await live.until_ready(within_s=5)
        blocker = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        publisher = Publisher(mqtt_url)
        try:
            lock = blocker.transaction()
            await lock.start()
            await blocker.execute("LOCK TABLE sensor_events IN ACCESS EXCLUSIVE MODE")
            await publisher.publish(
                f"anju/v1/{pir}/event", kit_payload(1, RealClock().now(), type="pir", event="motion")
            )
            published = time.monotonic()
            body = await live.until_check("ingest", False, within_s=8)
            to_false = time.monotonic() - published
            assert to_false >= FAST["health_stall_s"] - 0.1  # not before the stall time
            assert "nothing committed for" in body["reasons"]["ingest"]
            assert body["checks"]["database"] is True and body["checks"]["mqtt"] is True
            await live.until_metric("anju_alarm_path_healthy", 0, check="ingest")
            assert (await live.metric("anju_ingest_oldest_waiting_seconds") or 0) >= FAST["health_stall_s"]

            incident = await live.until_incident(state=IncidentState.OPEN)
            sms = await live.sms_to_supervisor("数据入库停滞")
            assert f"事件#{incident.id}" in sms.body

            async def page_sent() -> Notification | None:
                rows = await live.pages(incident.id)
                return rows[0] if len(rows) == 1 and rows[0].provider_id == sms.sid else None

            page = await eventually(page_sent, within_s=5)
            assert (
                page.step == PAGE_STEP and page.to_address == SUPERVISOR_PHONE and page.provider == "twilio"
            )
            degraded = [e for e in await live.timeline(incident.id) if e.kind == "alarm_path_degraded"]
            assert "ingest" in degraded[0].data["checks"] and degraded[0].data["recorded_late"] is False

            await lock.rollback()  # the lock goes: the waiting batch commits
            await live.until_ready(within_s=5)

            async def stored() -> int:
                async with live.ctx.db() as session:
                    n = await session.scalar(
                        select(func.count()).select_from(SensorEvent).where(SensorEvent.device_id == pir)
                    )
                return int(n or 0)

            assert await eventually(stored, within_s=5) == 1
            await _assert_recovery_recorded(live, incident.id, "ingest")
            print(f"\nFIGURES stall (limit {FAST['health_stall_s']:g} s) -> readyz false {to_false:.2f} s")
        finally:
            publisher.close()
            await blocker.close()


async def test_a_canary_the_broker_refuses_turns_readyz_false_while_sensor_messages_still_flow(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Anonymous clients (Anju and the kit here) may publish kit topics but not the canary's.
    refusing = "topic read anju/#\ntopic write anju/v1/#\ntopic read zigbee2mqtt/#\n"
    port = free_port()
    broker = _mosquitto(port, tmp_path, acl=refusing)
    url = f"mqtt://127.0.0.1:{port}"
    hid, pir = f"h-{uid()}", f"pir-{uid()}"
    try:
        async with running(sqlite_url, url) as live:
            await register(live.ctx.db, hid, [(pir, DeviceKind.PIR)])
            await live.service.ingestor.reload()
            body = await live.until_check("canary", False, within_s=6)
            assert body["checks"]["mqtt"] is True and body["checks"]["ingest"] is True
            assert "is not stored after" in body["reasons"]["canary"]
            await live.until_metric("anju_alarm_path_healthy", 0, check="canary")

            publisher = Publisher(url)
            try:
                await publisher.publish(
                    f"anju/v1/{pir}/event", kit_payload(1, RealClock().now(), type="pir", event="motion")
                )
            finally:
                publisher.close()

            async def stored() -> bool:
                async with live.ctx.db() as session:
                    return (
                        await session.scalar(select(SensorEvent.id).where(SensorEvent.device_id == pir))
                    ) is not None

            await eventually(stored, within_s=5)  # the sensors' path works: only the canary's is cut
            assert (await live.readyz())[1]["checks"]["canary"] is False

            incident = await live.until_incident(state=IncidentState.OPEN)
            await live.sms_to_supervisor("自检消息未按时入库")

            (tmp_path / "acl").write_text(refusing + "topic write anju/sys/#\n")
            broker.send_signal(signal.SIGHUP)  # mosquitto reloads its ACL file
            await live.until_ready(within_s=8)
            await _assert_recovery_recorded(live, incident.id, "canary")
    finally:
        _stop(broker)


class TcpCut:
    """A TCP forwarder to PostgreSQL whose ``cut`` drops every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_database_outage_is_reported_and_its_incident_raised_when_the_database_returns(
    pg_url: str, mqtt_url: str
) -> None:
    cut = TcpCut(5432)
    await cut.open()
    via_cut = pg_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{cut.port}/")
    assert via_cut != pg_url
    async with running(via_cut, mqtt_url) as live:
        await live.until_ready(within_s=5)
        cut_at = time.monotonic()
        await cut.cut()
        body = await live.until_check("database", False, within_s=5)
        to_false = time.monotonic() - cut_at
        assert body["reasons"]["database"]
        await live.until_metric("anju_alarm_path_healthy", 0, check="database")
        await asyncio.sleep(1.5)  # past the page threshold: the incident is due but cannot be written
        assert live.service.health.episode is not None and live.service.health.episode.failed_records > 0
        await cut.open()

        incident = await live.until_incident(within_s=10)
        degraded = next(e for e in await live.timeline(incident.id) if e.kind == "alarm_path_degraded")
        assert degraded.data["recorded_late"] is True and "database" in degraded.data["checks"]
        assert "recorded late" in degraded.note and "when the database answered again" in degraded.note
        assert degraded.data["degraded_since"] < degraded.data["due_at"]
        await live.sms_to_supervisor("数据库无法访问")
        await live.until_ready(within_s=10)
        await _assert_recovery_recorded(live, incident.id, "database")
        print(f"\nFIGURES database cut -> readyz false {to_false:.2f} s")
    await cut.cut()


async def test_a_simulated_clock_that_jumps_fakes_neither_a_stall_nor_a_late_canary(
    sqlite_url: str, mqtt_url: str
) -> None:
    # Durations are also timed in real time: a clock advanced by minutes while a canary and a batch
    # wait one real second on a locked SQLite file is not a stall, nor a late canary.
    clock = SimClock(RealClock().now())
    async with running(sqlite_url, mqtt_url, clock=clock) as live:
        await live.until_ready(within_s=5)
        writer = sqlite3.connect(sqlite_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            for _ in range(6):
                clock.advance(600)
                await asyncio.sleep(0.2)
                code, body = await live.readyz()
                assert code == 200, body
            assert live.service.ingestor.depth > 0  # the canary did wait behind the lock
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        await asyncio.sleep(0.5)
        assert all(state.ok for state in live.service.health.states.values())
        assert await live.alarm_path_incidents() == []
