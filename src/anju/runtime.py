"""Wires the live service: ingest, engine, dispatch, notify, API and console, started together.

The pipeline's invariant: a sensor event, the alerts it causes and the incident they open or join
commit in one transaction, and only then is the MQTT message acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from anju.clock import Clock, RealClock
from anju.config import Settings, load_settings
from anju.context import Context
from anju.dispatch import audit
from anju.dispatch.policy import current_policies
from anju.dispatch.service import RaiseResult, json_safe_detail, raise_findings
from anju.domain import DeviceKind, Role
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import load_pack
from anju.errors import AnjuError, ConfigError
from anju.ingest.profiles import Profile, load_profiles
from anju.store.db import after_commit, is_transient_error, transaction
from anju.store.models import DeadLetter, Device, EngineSnapshot, Household, SensorEvent
from anju.store.safe import storable, storable_json

log = logging.getLogger(__name__)

#: How often the engine's timers are advanced to the clock (seconds of real time).
TICK_S = 1.0
#: How often changed engine state is saved, so a restart resumes from it.
SNAPSHOT_S = 30.0
#: Homes per snapshot statement: one short transaction each, so a button press never waits long.
SNAPSHOT_CHUNK = 200
#: How often household and device registrations are re-read into the engine.
RECONFIGURE_S = 30.0
#: Edits stamped this long before the previous reload are read again (a transaction in flight then).
RECONFIGURE_MARGIN = timedelta(seconds=60)
#: Events received this long before a snapshot are replayed too (a batch may have been in flight).
SNAPSHOT_MARGIN = timedelta(seconds=60)


class Pipeline:
    """Engine plus dispatch: observations in, alerts and incidents out, in the caller's transaction."""

    def __init__(self, ctx: Context, engine: Engine) -> None:
        self.ctx = ctx
        self.engine = engine
        self._dirty: set[str] = set()
        self._degraded: dict[str, bool] = {}
        #: Findings whose transaction has not committed yet. The engine never returns a finding
        #: twice, so if that transaction rolls back they are raised again by the next one.
        self._unraised: list[Finding] = []
        self._profiles: dict[str, Profile] | None = None
        #: When the engine's configuration was last read from the database (None: never).
        self._configured_at: datetime | None = None

    async def configure_from_db(self) -> int:
        """Load active households and their devices into the engine; returns how many were (re)loaded.

        The first call loads every household; later calls only those edited, or given a device,
        since the previous one (re-reading 100k unchanged homes every half minute is wasted work).
        """
        if self._profiles is None:
            self._profiles = load_profiles(self.ctx.settings.sensors_dir)
        profiles = self._profiles
        started = self.ctx.clock.now()
        query = select(Household).where(Household.active.is_(True)).options(selectinload(Household.devices))
        if self._configured_at is not None:
            since = self._configured_at - RECONFIGURE_MARGIN
            new_devices = select(Device.household_id).where(Device.created_at > since)
            query = query.where(or_(Household.updated_at > since, Household.id.in_(new_devices)))
        async with self.ctx.db() as session:
            rows = (await session.scalars(query)).all()
            specs = []
            for hh in rows:
                self._degraded.setdefault(hh.id, hh.monitoring_degraded)
                devices = tuple(
                    DeviceSpec(
                        device_id=d.id,
                        kind=DeviceKind(d.type),
                        location=d.location,
                        heartbeat_s=d.heartbeat_s,
                        battery_low=profiles[d.profile].battery_low if d.profile in profiles else 20,
                    )
                    for d in hh.devices
                )
                specs.append(
                    HouseholdSpec(
                        household_id=hh.id,
                        timezone=hh.timezone or self.ctx.settings.timezone,
                        devices=devices,
                        overrides=hh.rule_overrides or {},
                    )
                )
        for spec in specs:
            try:
                self.engine.configure([spec])
            except ValueError as err:  # one bad household must not blind the others
                log.error("household %s not monitored with its overrides: %s", spec.household_id, err)
                self.engine.configure(
                    [
                        HouseholdSpec(
                            household_id=spec.household_id, timezone=spec.timezone, devices=spec.devices
                        )
                    ]
                )
        self._configured_at = started
        return len(specs)

    async def on_stored(self, session: AsyncSession, observations: Sequence[Observation]) -> None:
        """Called by the ingestor inside each batch's transaction with the new observations."""
        findings: list[Finding] = []
        for obs in observations:
            findings.extend(self.engine.observe(obs))
            self._dirty.add(obs.household_id)
        await self.raise_(session, findings)
        await self._sync_degraded(session, {o.household_id for o in observations})

    async def tick(self, now: datetime | None = None) -> int:
        """Advance the engine's timers to ``now`` and raise what fired; returns the count."""
        now = now or self.ctx.clock.now()
        findings = [*self._unraised, *self.engine.advance(now)]
        if not findings:
            return 0
        async with transaction(self.ctx.db) as session:
            await self.raise_(session, findings)
            await self._sync_degraded(session, {f.household_id for f in findings})
        self._dirty.update(f.household_id for f in findings)
        return len(findings)

    async def raise_(self, session: AsyncSession, findings: Sequence[Finding]) -> RaiseResult | None:
        # Alerts are unique by key, so raising a carried finding that another transaction has
        # meanwhile committed is a no-op.
        findings = list({id(f): f for f in [*self._unraised, *findings]}.values())
        if not findings:
            return None
        self._unraised = findings
        raised = {id(f) for f in findings}

        def _committed() -> None:
            self._unraised = [f for f in self._unraised if id(f) not in raised]

        after_commit(session, _committed)
        # Takes the audit chain lock raise_findings takes anyway. On SQLite it is also the write that
        # makes pysqlite emit BEGIN: a SAVEPOINT opened before it would start the transaction itself,
        # and releasing it would COMMIT ahead of the caller (SQLAlchemy's pysqlite SAVEPOINT caveat).
        await audit.lock_chain(session)
        try:
            async with session.begin_nested():
                result = await self._raise_findings(session, findings)
        except Exception as err:
            if is_transient_error(err):
                raise  # the whole transaction rolls back; the findings stay carried for the retry
            log.warning("raising %d findings failed (%s); raising them one by one", len(findings), err)
            result = await self._raise_isolated(session, findings)
        for alert in result.alerts:
            self.ctx.metrics.alerts.labels(rule=alert.rule, severity=alert.severity).inc()
        return result

    async def _raise_findings(self, session: AsyncSession, findings: Sequence[Finding]) -> RaiseResult:
        policies = current_policies(self.ctx.settings.rules_dir / "escalation.toml")
        return await raise_findings(
            session, findings, now=self.ctx.clock.now(), policies=policies, bus=self.ctx.bus
        )

    async def _raise_isolated(self, session: AsyncSession, findings: Sequence[Finding]) -> RaiseResult:
        """Each finding in its own SAVEPOINT; one that still fails becomes a dead letter.

        Carried over forever instead, it would fail every later batch and tick: every home's alarms
        blocked by one bad finding.
        """
        result = RaiseResult()
        for finding in findings:
            try:
                async with session.begin_nested():
                    one = await self._raise_findings(session, [finding])
            except Exception as err:
                if is_transient_error(err):
                    raise
                log.error(
                    "finding %s/%s of household %s cannot be raised, stored as a dead letter: %s",
                    finding.rule.value,
                    finding.key,
                    finding.household_id,
                    err,
                )
                session.add(_dead_letter(finding, err, now=self.ctx.clock.now()))
                await session.flush()
                continue
            result.alerts.extend(one.alerts)
            result.opened.extend(i for i in one.opened if i not in result.opened)
            result.joined.extend(i for i in one.joined if i not in result.joined and i not in result.opened)
        return result

    async def _sync_degraded(self, session: AsyncSession, household_ids: set[str]) -> None:
        """Keep ``monitoring_degraded`` equal to 'a sensor of this home is offline'."""
        for hid in household_ids:
            degraded = bool(self.engine.offline_devices(hid))
            if self._degraded.get(hid) == degraded:
                continue
            await session.execute(
                update(Household).where(Household.id == hid).values(monitoring_degraded=degraded)
            )
            # Cached only once committed: after a rollback the next batch or tick writes it again.
            after_commit(session, functools.partial(self._degraded.__setitem__, hid, degraded))
            self._publish(session, [{"type": "household", "id": hid, "monitoring_degraded": degraded}])

    def _publish(self, session: AsyncSession, events: list[dict[str, Any]]) -> None:
        """Tell live subscribers (the console) once the change is committed."""
        bus = self.ctx.bus

        def _send() -> None:
            for event in events:
                bus.publish(event)

        after_commit(session, _send)

    async def save_snapshots(self, *, everything: bool = False) -> int:
        """Store the state of homes that changed since the last save (bulk upserts, short transactions)."""
        ids = self.engine.household_ids() if everything else sorted(self._dirty)
        self._dirty.clear()
        if not ids:
            return 0
        now = self.ctx.clock.now()
        watermark = self.engine.watermark or now
        saved = 0
        for start in range(0, len(ids), SNAPSHOT_CHUNK):
            rows = []
            for hid in ids[start : start + SNAPSHOT_CHUNK]:
                try:
                    rows.append(
                        {
                            "household_id": hid,
                            "watermark": watermark,
                            "state": self.engine.snapshot(hid),
                            "updated_at": now,
                        }
                    )
                except KeyError:
                    continue
            if not rows:
                continue
            try:
                async with transaction(self.ctx.db) as session:
                    await session.execute(_upsert_snapshots(session, rows))
                saved += len(rows)
            except Exception as err:
                if is_transient_error(err):
                    self._dirty.update(str(row["household_id"]) for row in rows)  # saved next pass
                    raise
                saved += await self._save_snapshots_one_by_one(rows, err)
            await asyncio.sleep(0)  # let a waiting ingest batch in between chunks
        return saved

    async def _save_snapshots_one_by_one(self, rows: list[dict[str, Any]], err: BaseException) -> int:
        """A chunk the database refused: each home alone, so one bad state never blocks the others.

        A state that still fails is stored with its text escaped; failing that, it becomes a dead
        letter (restart then rebuilds that home from its stored events) instead of failing forever.
        """
        log.warning("saving %d engine snapshots failed (%r); saving them one by one", len(rows), err)
        saved = 0
        for row in rows:
            for attempt in (row, {**row, "state": storable_json(row["state"])}):
                try:
                    async with transaction(self.ctx.db) as session:
                        await session.execute(_upsert_snapshots(session, [attempt]))
                    saved += 1
                    break
                except Exception as one_err:
                    if is_transient_error(one_err):
                        self._dirty.add(row["household_id"])
                        raise
                    last = one_err
            else:
                log.error("engine snapshot of %s not stored: %r", row["household_id"], last)
                async with transaction(self.ctx.db) as session:
                    session.add(_snapshot_dead_letter(row["household_id"], last, now=self.ctx.clock.now()))
        return saved

    async def restore(self) -> tuple[int, int]:
        """Rebuild engine state after a restart: snapshots, then the events stored since them.

        Alerts the replay raises again carry the same keys and are stored once; timers that came
        due while the service was down fire at the next tick.
        """
        restored = replayed = 0
        async with self.ctx.db() as session:
            snaps = (await session.scalars(select(EngineSnapshot))).all()
        since: dict[str, datetime] = {}
        for snap in snaps:
            try:
                self.engine.restore(snap.household_id, snap.state)
            except (KeyError, ValueError) as err:
                log.warning("engine snapshot of %s not restored: %s", snap.household_id, err)
                continue
            since[snap.household_id] = snap.updated_at - SNAPSHOT_MARGIN
            restored += 1
        if since:
            oldest = min(since.values())
            async with self.ctx.db() as session:
                stream = await session.stream_scalars(
                    select(SensorEvent)
                    .where(SensorEvent.received_at > oldest)
                    .order_by(SensorEvent.event_time)
                )
                findings: list[Finding] = []
                async for ev in stream:
                    cutoff = since.get(ev.household_id)
                    if cutoff is None or ev.received_at <= cutoff:
                        continue
                    findings.extend(self.engine.observe(_observation(ev)))
                    replayed += 1
            if findings:
                async with transaction(self.ctx.db) as session:
                    await self.raise_(session, findings)
        return restored, replayed


def _dead_letter(finding: Finding, err: BaseException, *, now: datetime) -> DeadLetter:
    """A finding that cannot be stored, kept where operators see dead letters, with the reason."""
    body = {
        "household_id": finding.household_id,
        "rule": finding.rule.value,
        "severity": finding.severity.value,
        "at": finding.at.isoformat(),
        "key": finding.key,
        "device_id": finding.device_id,
        "detail": json_safe_detail(finding.detail),
    }
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
    payload = text.encode("utf-8", "backslashreplace")
    return DeadLetter(
        received_at=now,
        topic=storable(f"anju/engine/{finding.household_id}/{finding.rule.value}"),
        payload_head=payload,
        payload_size=len(payload),
        reason=storable(f"finding not raised: {type(err).__name__}: {err}", limit=2000),
        device_id=storable(finding.device_id, limit=128) if finding.device_id else None,
    )


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
    from anju.domain import EventName

    return Observation(
        household_id=ev.household_id,
        device_id=ev.device_id,
        kind=DeviceKind(ev.type),
        event=EventName(ev.event),
        at=ev.event_time,
        battery=ev.battery,
        rssi=ev.rssi,
    )


async def _every(
    interval_s: float, stop: asyncio.Event, fn: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run ``fn`` every ``interval_s`` until ``stop``; an error is logged, never fatal."""
    while not stop.is_set():
        try:
            await fn()
        except Exception:
            log.exception("%s failed; retrying", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


@dataclass
class MqttTarget:
    url: str
    protocol: Literal["v5", "v311"] = "v5"
    username: str | None = None
    password: str | None = None
    client_id: str | None = None


class Service:
    """The whole live service in one asyncio loop."""

    def __init__(
        self, ctx: Context, mqtt: MqttTarget, *, serve_http: bool = True, rules_path: str | None = None
    ) -> None:
        self.ctx = ctx
        self.mqtt = mqtt
        self.serve_http = serve_http
        pack = load_pack(rules_path or ctx.settings.rules_dir / "default.toml")
        self.pipeline = Pipeline(ctx, Engine(pack, default_timezone=ctx.settings.timezone))
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Why a task ended on its own; the service then stops and exits with an error.
        self.died: str | None = None
        self.ingestor: Any = None
        self.health: Any = None
        self.http: Any = None

    async def start(self) -> None:
        from anju.health import HealthMonitor
        from anju.ingest.ingestor import Ingestor

        if self.serve_http:
            ensure_port_free(self.ctx.settings.http_host, self.ctx.settings.http_port, "ANJU_HTTP_PORT")

        homes = await self.pipeline.configure_from_db()
        restored, replayed = await self.pipeline.restore()
        log.info("monitoring %d households (%d restored, %d events replayed)", homes, restored, replayed)
        await self.pipeline.tick()
        self.ingestor = Ingestor(
            self.ctx,
            on_stored=self.pipeline.on_stored,
            mqtt_url=self.mqtt.url,
            protocol=self.mqtt.protocol,
            client_id=self.mqtt.client_id,
            username=self.mqtt.username,
            password=self.mqtt.password,
        )
        await self.ingestor.start()
        if self.serve_http:
            # Built before any periodic task starts: importing and building the app holds the loop for
            # seconds, which the health monitor's first round would take for a database timeout.
            self._build_http()
        # The alarm path's own health: /readyz probes (mqtt, ingest, canary), metrics, one incident
        # per degradation (anju.health).
        self.health = HealthMonitor(self.ctx, self.ingestor)
        self.health.register()
        stop = self.stop_event
        self._spawn(_every(self.ctx.settings.health_interval_s, stop, self.health.evaluate, "health monitor"))
        self._spawn(_every(TICK_S, stop, self.pipeline.tick, "engine tick"))
        self._spawn(_every(SNAPSHOT_S, stop, self.pipeline.save_snapshots, "engine snapshot"))
        self._spawn(_every(RECONFIGURE_S, stop, self.pipeline.configure_from_db, "engine reconfigure"))
        self._start_workers()
        if self.http is not None:
            self._spawn(self._serve_http())

    def _start_workers(self) -> None:
        from anju.dispatch.escalation import escalation_loop
        from anju.notify.outbox import build_provider, outbox_loop, use_notifier

        # Built here, not inside the worker, so a bad provider setting stops the start with its reason.
        use_notifier(self.ctx, build_provider(self.ctx.settings, clock=self.ctx.clock))

        self._spawn(escalation_loop(self.ctx, self.stop_event))
        self._spawn(outbox_loop(self.ctx, self.stop_event))

    def _build_http(self) -> None:
        import uvicorn

        from anju.api.app import create_app

        config = uvicorn.Config(
            create_app(self.ctx),
            host=self.ctx.settings.http_host,
            port=self.ctx.settings.http_port,
            log_level="warning",
            lifespan="on",
            # Open console streams (SSE) would otherwise hold a shutdown for as long as a browser stays.
            timeout_graceful_shutdown=5,
        )
        self.http = uvicorn.Server(config)
        self.http.install_signal_handlers = lambda: None

    async def _serve_http(self) -> None:
        assert self.http is not None
        await self.http.serve()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A task that ends on its own stops the whole service, so the supervisor restarts it.

        A half-running service (say, no console, or no escalation) that still looks alive is worse
        than a restart.
        """
        if task.cancelled() or self.stop_event.is_set():
            if not task.cancelled() and task.exception() is not None:
                log.error("service task failed while stopping", exc_info=task.exception())
            return
        err = task.exception()
        self.died = f"{task.get_coro()}: {err!r}" if err is not None else f"{task.get_coro()} ended"
        if err is not None:
            log.critical("service task %s died; stopping the service", task.get_coro(), exc_info=err)
        else:
            log.critical("service task %s ended unexpectedly; stopping the service", task.get_coro())
        self.stop_event.set()

    async def stop(self) -> None:
        self.stop_event.set()
        if self.http is not None:
            self.http.should_exit = True
        if self.ingestor is not None:
            await self.ingestor.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        await self.pipeline.save_snapshots(everything=True)

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_event.set)
        await self.start()
        try:
            await self.stop_event.wait()
        finally:
            await self.stop()
        if self.died is not None:
            # A non-zero exit, so a supervisor (systemd Restart=on-failure) starts it again.
            raise AnjuError(f"the service stopped because a task died: {self.died}")


def ensure_port_free(host: str, port: int, setting: str) -> None:
    """Fail before starting anything when ``port`` is taken, with a reason an operator can act on."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({err.strerror}): is another Anju running? "
                f"Stop it or choose another port ({setting})."
            ) from err


# ---- CLI entry points ---------------------------------------------------------------------------


def _settings() -> Settings:
    return load_settings()


def run_service() -> int:
    """``anju run``: the service against the configured broker and database."""
    settings = _settings()
    settings.require_production_secret()
    if not settings.mqtt_url:
        raise ConfigError(
            "ANJU_MQTT_URL is not set: `anju run` needs a broker (the embedded one is for "
            "`anju demo`), e.g. mqtt://anju:PASSWORD@127.0.0.1:1883"
        )
    from urllib.parse import urlsplit

    mqtt_url = settings.mqtt_url
    url = urlsplit(mqtt_url)
    from anju.ingest.broker_auth import broker_warnings
    from anju.ingest.mqtt import parse_mqtt_url

    for warning in broker_warnings(parse_mqtt_url(mqtt_url)):
        log.warning("%s", warning)

    async def _main() -> None:
        from anju.store.migrate import current_is_head

        ctx = Context.create(settings)
        try:
            if not await current_is_head(settings.database_url):
                raise ConfigError("the database schema is not up to date: run `anju db upgrade` first")
            service = Service(
                ctx,
                MqttTarget(
                    url=mqtt_url,
                    protocol="v5",
                    username=url.username,
                    password=url.password,
                    client_id=settings.mqtt_client_id,
                ),
            )
            print(
                f"Anju is running: console and API at http://{settings.http_host}:{settings.http_port}",
                flush=True,
            )
            await service.run_until_stopped()
        finally:
            await ctx.close()

    asyncio.run(_main())
    return 0


def db_upgrade() -> int:
    from anju.store.migrate import upgrade_sync

    settings = _settings()
    upgrade_sync(settings.database_url)
    print(f"database at {_redact(settings.database_url)} is up to date")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def add_user(
    name: str,
    *,
    role: str,
    password: str,
    display_name: str = "",
    phone: str | None = None,
    contact_id: int | None = None,
    clock: Clock | None = None,
) -> int:
    from anju.accounts import check_responder_contact, create_user

    try:
        check_responder_contact(role, contact_id)  # before any connection: the API's rule
    except ValueError as err:
        raise AnjuError(str(err)) from err
    settings = _settings()
    ctx = Context.create(settings)
    try:
        async with transaction(ctx.db) as session:
            user = await create_user(
                session,
                username=name,
                password=password,
                role=Role(role),
                clock=clock or RealClock(),
                display_name=display_name,
                phone=phone,
                contact_id=contact_id,
            )
        print(f"user {user.username!r} ({user.role}) created")
        return 0
    except ValueError as err:
        raise AnjuError(str(err)) from err
    finally:
        await ctx.close()


async def audit_verify(anchor: str | None = None) -> int:
    """``anju audit verify [--anchor ID:HASH]``: exit 1 at the first broken record."""
    from anju.dispatch.audit import ChainHead, verify_chain

    head: ChainHead | None = None
    if anchor:
        ident, sep, digest = anchor.partition(":")
        if not sep or not ident.isdigit() or len(digest) != 64:
            raise AnjuError("--anchor takes ID:HASH as printed by an earlier `anju audit verify`")
        head = ChainHead(record_id=int(ident), hash=digest)
    ctx = Context.create(_settings())
    try:
        async with ctx.db() as session:
            count, broken, last = await verify_chain(session, anchor=head)
    finally:
        await ctx.close()
    if broken is None:
        print(f"audit chain intact: {count} records verified")
        if last is not None:
            print(f"head: {last.record_id}:{last.hash}  (keep it; --anchor detects a later cut of the tail)")
        return 0
    print(
        f"audit chain BROKEN at record {broken.record_id}: {broken.reason} "
        f"({count} records before it verified)"
    )
    return 1


def run_demo(**kwargs: Any) -> int:
    from anju.demo import run_demo as _run

    return _run(**kwargs)
