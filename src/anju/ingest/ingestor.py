"""The ingestor: MQTT messages in, durable records out, acknowledged only once committed.

Flow per batch (up to ``ingest_batch_size`` messages or ``ingest_batch_wait_ms`` after the first):
decode -> one transaction (events deduplicated, dead letters, unknown devices, device status, then
the ``on_stored`` handler with the new observations) -> commit -> acknowledge to the broker. A full
queue stops reading the socket (the broker holds the rest) instead of dropping anything.

A batch whose transaction fails is retried with backoff only while the database itself is in
trouble (unreachable, locked). When the database answers and the batch still fails, something in
the batch is poison: the batch is split in halves until the one message that fails is isolated, and
that message alone becomes a dead letter. No batch is retried forever, and one message never holds
back the others (a button press behind it included).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import paho.mqtt.client as paho
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anju.context import Context
from anju.domain import DeviceKind, IngestOutcome
from anju.engine.model import Observation
from anju.errors import ConfigError
from anju.ingest.decode import (
    CanaryRecord,
    DeadLetterRecord,
    Decoded,
    Decoder,
    IgnoredMessage,
    StoredEvent,
    UnknownDeviceRecord,
    dead_letter,
)
from anju.ingest.mqtt import BrokerAddress, MqttLink, MqttVersion, parse_mqtt_url
from anju.ingest.persist import store_batch
from anju.ingest.profiles import Profile, load_profiles
from anju.ingest.registry import DeviceRegistry
from anju.store.db import is_transient_error, transaction
from anju.store.models import IngestCanary
from anju.store.safe import storable

log = logging.getLogger(__name__)

OnStored = Callable[[AsyncSession, Sequence[Observation]], Awaitable[None]]

_RETRY_MIN_S = 0.2
_RETRY_MAX_S = 30.0
#: On stop, a batch that keeps failing is given up after this many tries (the broker keeps it).
_STOP_ATTEMPTS = 2
#: A batch that fails this many times while the database answers is split, whatever the error says.
_SPLIT_AFTER_ATTEMPTS = 3
#: How long the database may take to answer ``SELECT 1`` when a batch failed.
_DB_PROBE_TIMEOUT_S = 5.0
#: Dead letters are logged as one summary line per this many seconds, not one line each.
DEAD_LETTER_LOG_S = 60.0
#: Topic prefix of the canary each process publishes to itself (``anju/sys/canary/<client id>``).
CANARY_PREFIX = "anju/sys/canary/"


@dataclass(slots=True)
class Inbound:
    """A message as received, before decoding."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime
    generation: int


@dataclass
class IngestStats:
    """Counters since start, for tests, the benchmark and the console."""

    received: int = 0
    stored: int = 0
    duplicate: int = 0
    dead_letter: int = 0
    unknown_device: int = 0
    ignored: int = 0
    acked: int = 0
    batches: int = 0
    failed_batches: int = 0
    #: Messages that could only be stored as a dead letter after their batch was split.
    isolated: int = 0
    pauses: int = 0

    @property
    def committed(self) -> int:
        return self.stored + self.duplicate + self.dead_letter + self.unknown_device + self.ignored


class DeadLetterLog:
    """Dead letters as one summary line per interval (a flood of bad messages must not flood the log)."""

    def __init__(self, interval_s: float = DEAD_LETTER_LOG_S) -> None:
        self.interval_s = interval_s
        self._reasons: dict[str, int] = {}
        self._count = 0
        self._last: float | None = None

    def add(self, records: Sequence[DeadLetterRecord]) -> None:
        for r in records:
            # The reason's first clause groups alike messages ("field 'seq': ...").
            head = r.reason.split(":", 1)[0][:80]
            self._reasons[head] = self._reasons.get(head, 0) + 1
        self._count += len(records)
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._count or (not force and self._last is not None and now - self._last < self.interval_s):
            return
        top = sorted(self._reasons.items(), key=lambda kv: -kv[1])[:5]
        shown = "; ".join(f"{n}× {reason}" for reason, n in top)
        log.warning(
            "%d dead letters since the last summary (see /api/v1/ingest/dead-letters): %s", self._count, shown
        )
        self._reasons.clear()
        self._count = 0
        self._last = now


class Ingestor:
    """Subscribes to the kit and Zigbee2MQTT topics and stores every message exactly once."""

    def __init__(
        self,
        ctx: Context,
        *,
        on_stored: OnStored | None = None,
        mqtt_url: str | None = None,
        protocol: MqttVersion = "v5",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        profiles: dict[str, Profile] | None = None,
    ) -> None:
        settings = ctx.settings
        url = mqtt_url or settings.mqtt_url
        if not url:
            raise ConfigError("no MQTT broker: set ANJU_MQTT_URL or start the embedded broker")
        address = parse_mqtt_url(url)
        if username is not None:
            address = BrokerAddress(address.host, address.port, address.tls, username, password)
        if settings.mqtt_ca_file is not None:
            address = replace(address, ca_file=str(settings.mqtt_ca_file))
        self.ctx = ctx
        self.on_stored = on_stored
        self.decoder = Decoder(
            profiles if profiles is not None else load_profiles(settings.sensors_dir),
            max_clock_skew_s=settings.max_clock_skew_s,
        )
        self.registry = DeviceRegistry(ctx.db)
        self.stats = IngestStats()
        self._batch_size = settings.ingest_batch_size
        self._batch_wait_s = settings.ingest_batch_wait_ms / 1000.0
        self._queue_limit = settings.ingest_queue_limit
        self._queue: deque[Inbound] = deque()
        self._in_hand = 0
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.client_id = client_id or settings.mqtt_client_id
        #: This process's own canary topic: published to itself through the broker, stored like a
        #: sensor message, so a stored canary proves the whole path works (see ``publish_canary``).
        self.canary_topic = CANARY_PREFIX + _topic_level(self.client_id)
        self.canary_sent_at: datetime | None = None
        self.canary_stored_at: datetime | None = None
        #: Clock time of the last committed batch (None: none yet).
        self.last_commit_at: datetime | None = None
        self._in_hand_since: datetime | None = None
        self.dead_letter_log = DeadLetterLog()
        self.link = MqttLink(
            address,
            client_id=self.client_id,
            version=protocol,
            subscriptions=(*self.decoder.subscriptions, self.canary_topic),
            on_message=self._on_message,
            session_expiry_s=settings.mqtt_session_expiry_s,
            # The broker never has more unacknowledged messages out to us than we are willing to hold.
            receive_maximum=self._queue_limit,
        )

    @property
    def connected(self) -> asyncio.Event:
        """Set while connected and subscribed."""
        return self.link.connected

    @property
    def depth(self) -> int:
        """Messages received and not yet committed."""
        return len(self._queue) + self._in_hand

    def oldest_waiting_since(self) -> datetime | None:
        """Receive time of the oldest message received and not yet committed (None: nothing waits)."""
        times = [t for t in (self._in_hand_since, self._queue[0].received_at if self._queue else None) if t]
        return min(times) if times else None

    async def publish_canary(self) -> datetime | None:
        """Publish a canary to ourselves through the broker; its storing sets ``canary_stored_at``.

        Returns when it was sent, or None when it could not leave (not connected to the broker).
        """
        sent_at = self.ctx.clock.now()
        payload = json.dumps({"sent_at": sent_at.isoformat(), "client_id": self.client_id}).encode()
        if not self.link.publish(self.canary_topic, payload, qos=1):
            log.warning("canary not published: not connected to the broker")
            return None
        return sent_at

    async def start(self) -> None:
        """Load the device registry, connect, and start storing."""
        # A database that is down now is retried with every batch; the broker keeps the messages.
        await self._quietly(self.registry.reload())
        self._stop.clear()
        self._worker = asyncio.create_task(self._work(), name="ingest worker")
        await self.link.start()

    async def stop(self) -> None:
        """Stop reading, store what is in hand, acknowledge it, then disconnect."""
        self._stop.set()
        self.link.pause_reading()
        self._wakeup.set()
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        await self.link.stop()
        self._set_paused_metric()
        self.dead_letter_log.flush(force=True)

    async def reload(self) -> None:
        """Reload the device registry now (after bulk device changes)."""
        await self.registry.reload()

    # -- receiving ----------------------------------------------------------------------------

    def _on_message(self, message: paho.MQTTMessage, generation: int) -> None:
        # Runs inside paho's read on the loop thread: keep it small and never raise.
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # MQTT requires UTF-8 topics and brokers check, but a message must never break the
            # reader: it is kept with its topic escaped and becomes a dead letter.
            topic = storable(bytes(message._topic).decode("utf-8", "backslashreplace"))
        self._queue.append(
            Inbound(
                topic,
                bytes(message.payload),
                message.mid,
                message.qos,
                self.ctx.clock.now(),
                generation,
            )
        )
        self.stats.received += 1
        queued = len(self._queue)
        if queued == 1 or queued >= self._batch_size:
            self._wakeup.set()
        if queued + self._in_hand >= self._queue_limit and not self.link.paused:
            self.link.pause_reading()
            self.stats.pauses += 1
            self._set_paused_metric()
            log.warning("ingest queue full (%d): reading paused until the database catches up", self.depth)

    def _set_paused_metric(self) -> None:
        self.ctx.metrics.ingest_paused.set(1 if self.link.paused else 0)
        self.ctx.metrics.ingest_queue_depth.set(self.depth)

    # -- storing ------------------------------------------------------------------------------

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._stop.is_set():
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Let a batch fill up, but never hold the first message longer than the batch wait.
            deadline = loop.time() + self._batch_wait_s
            while len(self._queue) < self._batch_size and not self._stop.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            take = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(take)]
            self._in_hand = take
            self._in_hand_since = batch[0].received_at
            try:
                await self._process(batch)
            except Exception:  # never let one batch end the worker; its messages stay unacknowledged
                log.exception("ingest batch of %d messages abandoned; the broker will redeliver it", take)
            finally:
                self._in_hand = 0
                self._in_hand_since = None
            if self.link.paused and not self._stop.is_set() and self.depth <= self._queue_limit // 2:
                self.link.resume_reading()
            self._set_paused_metric()

    async def _process(self, batch: list[Inbound]) -> None:
        if self.registry.stale:
            await self._quietly(self.registry.reload())
        started = time.perf_counter()
        counts = await self._store(batch, [self._decode(m) for m in batch])
        if counts is None:
            return  # stopping while the database is down: nothing acknowledged, the broker keeps it
        self.ctx.metrics.ingest_batch_seconds.observe(time.perf_counter() - started)
        acked = 0
        for m in batch:
            if self.link.ack(m.mid, m.qos, m.generation):
                acked += 1
        self.stats.acked += acked
        self.stats.batches += 1
        for outcome, n in counts.items():
            if n:
                self.ctx.metrics.ingest_messages.labels(outcome=outcome).inc(n)
                setattr(self.stats, outcome, getattr(self.stats, outcome) + n)

    async def _store(
        self, batch: list[Inbound], decoded: list[Decoded], *, isolate: bool = True
    ) -> dict[str, int] | None:
        """Commit ``batch``: retried while the database is in trouble, split when the batch is.

        Returns the counts by outcome, or None when stopping before the database came back.
        """
        attempt = 0
        while True:
            try:
                decoded = await self._resolve_unknown(batch, decoded)
                return await self._commit(decoded)
            except Exception as err:
                attempt += 1
                self.stats.failed_batches += 1
                database_ok = await self._database_answers()
                poisoned = not is_transient_error(err) or attempt >= _SPLIT_AFTER_ATTEMPTS
                if isolate and database_ok and poisoned:
                    return await self._isolate(batch, decoded, err)
                if self._stop.is_set() and attempt >= _STOP_ATTEMPTS:
                    log.error(
                        "stopping with %d messages not stored (%s); the broker keeps them", len(batch), err
                    )
                    return None
                delay = min(_RETRY_MIN_S * 2 ** (attempt - 1), _RETRY_MAX_S)
                log.error(
                    "storing %d messages failed (attempt %d, database %s): %r; "
                    "nothing acknowledged, retry in %.1f s",
                    len(batch),
                    attempt,
                    "answers" if database_ok else "unreachable",
                    err,
                    delay,
                    exc_info=attempt == 1,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)

    async def _isolate(
        self, batch: list[Inbound], decoded: list[Decoded], err: BaseException
    ) -> dict[str, int] | None:
        """The database answers but this batch fails: halve it until the failing message is alone."""
        if len(batch) == 1:
            return await self._store_as_dead_letter(batch[0], decoded[0], err)
        log.warning("a batch of %d messages failed with the database up (%r): splitting it", len(batch), err)
        middle = len(batch) // 2
        total: dict[str, int] = {}
        for part, part_decoded in ((batch[:middle], decoded[:middle]), (batch[middle:], decoded[middle:])):
            counts = await self._store(part, part_decoded)
            if counts is None:
                return None
            for outcome, n in counts.items():
                total[outcome] = total.get(outcome, 0) + n
        return total

    async def _store_as_dead_letter(
        self, message: Inbound, decoded: Decoded, err: BaseException
    ) -> dict[str, int] | None:
        """The one message that fails alone: kept as a dead letter, raw bytes and an escaped reason."""
        what = f"{decoded.kind.value} {decoded.event.value} " if isinstance(decoded, StoredEvent) else ""
        reason = storable(f"{what}could not be stored: {type(err).__name__}: {err}", limit=2000)
        device_id = getattr(decoded, "device_id", None)
        if isinstance(decoded, StoredEvent) and decoded.kind is DeviceKind.BUTTON:
            # An alarm that the pipeline could not raise: operators must hear of it, not only read it.
            log.critical("button %s: %s — the alarm was NOT raised, check this home", device_id, reason)
        full = dead_letter(message.topic, message.payload, message.received_at, reason, device_id=device_id)
        # The least that cannot fail: an ASCII reason, an escaped topic, the raw bytes.
        bare = dead_letter(
            storable(message.topic, limit=512),
            message.payload,
            message.received_at,
            f"could not be stored: {type(err).__name__} (details in the service log)",
        )
        log.error("message on %s isolated as a dead letter: %s", full.topic, reason)
        self.stats.isolated += 1
        for record in (full, bare):
            try:
                return await self._commit([record])
            except Exception as again:
                log.error("dead letter for %s failed (%r)", full.topic, again)
                if not await self._database_answers():
                    break
        # The database refuses even a bare dead letter, or went away: an outage, retried with backoff.
        return await self._store([message], [bare], isolate=False)

    async def _database_answers(self) -> bool:
        """Whether the database takes a known-good write: it tells an outage from a poisoned batch.

        A write, not ``SELECT 1``: a full disk or a lock answers reads and refuses writes, and must
        be retried (the events in the batch are real), never split into dead letters.
        """
        probe = {"client_id": "", "sent_at": self.ctx.clock.now(), "stored_at": self.ctx.clock.now()}
        try:
            async with asyncio.timeout(_DB_PROBE_TIMEOUT_S), self.ctx.db() as session:
                await session.execute(text("SELECT 1"))
                await session.execute(IngestCanary.__table__.insert().values(probe))  # type: ignore[attr-defined]
                await session.rollback()
        except Exception:
            return False
        return True

    def _decode(self, m: Inbound) -> Decoded:
        if m.topic == self.canary_topic:
            return self.decoder.canary(m.topic, m.payload, m.received_at)
        return self.decoder.decode(m.topic, m.payload, m.received_at, self.registry.lookup)

    async def _resolve_unknown(self, batch: list[Inbound], decoded: list[Decoded]) -> list[Decoded]:
        """Devices registered since the cache was loaded are found on their first message."""
        misses = {(d.protocol, d.key) for d in decoded if isinstance(d, UnknownDeviceRecord)}
        if not misses or not await self.registry.resolve(misses):
            return decoded
        return [
            self._decode(m) if isinstance(d, UnknownDeviceRecord) else d
            for m, d in zip(batch, decoded, strict=True)
        ]

    async def _commit(self, decoded: list[Decoded]) -> dict[str, int]:
        events: list[StoredEvent] = []
        dead: list[DeadLetterRecord] = []
        unknown: list[UnknownDeviceRecord] = []
        canary: CanaryRecord | None = None
        ignored = 0
        for d in decoded:
            if isinstance(d, StoredEvent):
                events.append(d)
            elif isinstance(d, DeadLetterRecord):
                dead.append(d)
            elif isinstance(d, UnknownDeviceRecord):
                unknown.append(d)
            elif isinstance(d, CanaryRecord):
                canary = d if canary is None or d.sent_at > canary.sent_at else canary
                ignored += 1
            elif isinstance(d, IgnoredMessage):
                ignored += 1
        async with transaction(self.ctx.db) as session:
            outcome = await store_batch(session, events=events, dead_letters=dead, unknown=unknown)
            if self.on_stored is not None and outcome.new:
                # Same transaction: a button press and the incident it opens commit together.
                await self.on_stored(session, [e.observation() for e in outcome.new])
            if canary is not None:
                await self._store_canary(session, canary)
        now = self.ctx.clock.now()
        self.last_commit_at = now
        if canary is not None:
            self.canary_sent_at, self.canary_stored_at = canary.sent_at, now
        if dead:
            self.dead_letter_log.add(dead)
        return {
            IngestOutcome.STORED.value: len(outcome.new),
            IngestOutcome.DUPLICATE.value: outcome.duplicates,
            IngestOutcome.DEAD_LETTER.value: len(dead),
            IngestOutcome.UNKNOWN_DEVICE.value: len(unknown),
            "ignored": ignored,
        }

    async def _store_canary(self, session: AsyncSession, canary: CanaryRecord) -> None:
        row = {
            "client_id": self.client_id[:128],
            "sent_at": canary.sent_at,
            "stored_at": self.ctx.clock.now(),
        }
        dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = dialect_insert(IngestCanary).values(row)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["client_id"],
                set_={"sent_at": stmt.excluded.sent_at, "stored_at": stmt.excluded.stored_at},
            )
        )

    async def _quietly(self, job: Awaitable[Any]) -> None:
        try:
            await job
        except Exception as err:
            log.warning("device registry reload failed: %r; using the cached devices", err)


def _topic_level(client_id: str) -> str:
    """A client id as one safe topic level (no wildcards, no separators)."""
    level = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in client_id)
    return level[:64] or "anju"
