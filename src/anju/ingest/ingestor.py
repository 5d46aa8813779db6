"""The ingestor: MQTT messages in, durable records out, acknowledged only once committed.

Flow per batch (up to ``ingest_batch_size`` messages or ``ingest_batch_wait_ms`` after the first):
decode -> one transaction (events deduplicated, dead letters, unknown devices, device status, then
the ``on_stored`` handler with the new observations) -> commit -> acknowledge to the broker. A failed
transaction acknowledges nothing and is retried with backoff; a full queue stops reading the socket
(the broker holds the rest) instead of dropping anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as paho
from sqlalchemy.ext.asyncio import AsyncSession

from anju.context import Context
from anju.domain import IngestOutcome
from anju.engine.model import Observation
from anju.errors import ConfigError
from anju.ingest.decode import (
    DeadLetterRecord,
    Decoded,
    Decoder,
    IgnoredMessage,
    StoredEvent,
    UnknownDeviceRecord,
)
from anju.ingest.mqtt import BrokerAddress, MqttLink, MqttVersion, parse_mqtt_url
from anju.ingest.persist import store_batch
from anju.ingest.profiles import Profile, load_profiles
from anju.ingest.registry import DeviceRegistry
from anju.store.db import transaction

log = logging.getLogger(__name__)

OnStored = Callable[[AsyncSession, Sequence[Observation]], Awaitable[None]]

_RETRY_MIN_S = 0.2
_RETRY_MAX_S = 30.0
#: On stop, a batch that keeps failing is given up after this many tries (the broker keeps it).
_STOP_ATTEMPTS = 2


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
    pauses: int = 0

    @property
    def committed(self) -> int:
        return self.stored + self.duplicate + self.dead_letter + self.unknown_device + self.ignored


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
        self.link = MqttLink(
            address,
            client_id=client_id or settings.mqtt_client_id,
            version=protocol,
            subscriptions=self.decoder.subscriptions,
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

    async def reload(self) -> None:
        """Reload the device registry now (after bulk device changes)."""
        await self.registry.reload()

    # -- receiving ----------------------------------------------------------------------------

    def _on_message(self, message: paho.MQTTMessage, generation: int) -> None:
        # Runs inside paho's read on the loop thread: keep it small and never raise.
        self._queue.append(
            Inbound(
                message.topic,
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
            try:
                await self._process(batch)
            except Exception:  # never let one batch end the worker; its messages stay unacknowledged
                log.exception("ingest batch of %d messages abandoned; the broker will redeliver it", take)
            finally:
                self._in_hand = 0
            if self.link.paused and not self._stop.is_set() and self.depth <= self._queue_limit // 2:
                self.link.resume_reading()
            self._set_paused_metric()

    async def _process(self, batch: list[Inbound]) -> None:
        if self.registry.stale:
            await self._quietly(self.registry.reload())
        decoded = [self._decode(m) for m in batch]
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                decoded = await self._resolve_unknown(batch, decoded)
                counts = await self._commit(decoded)
                break
            except Exception as err:
                attempt += 1
                self.stats.failed_batches += 1
                if self._stop.is_set() and attempt >= _STOP_ATTEMPTS:
                    log.error(
                        "stopping with %d messages not stored (%s); the broker keeps them", len(batch), err
                    )
                    return
                delay = min(_RETRY_MIN_S * 2 ** (attempt - 1), _RETRY_MAX_S)
                log.error(
                    "storing %d messages failed (attempt %d): %r; nothing acknowledged, retry in %.1f s",
                    len(batch),
                    attempt,
                    err,
                    delay,
                    exc_info=attempt == 1,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
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

    def _decode(self, m: Inbound) -> Decoded:
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
        ignored = 0
        for d in decoded:
            if isinstance(d, StoredEvent):
                events.append(d)
            elif isinstance(d, DeadLetterRecord):
                dead.append(d)
            elif isinstance(d, UnknownDeviceRecord):
                unknown.append(d)
            elif isinstance(d, IgnoredMessage):
                ignored += 1
        async with transaction(self.ctx.db) as session:
            outcome = await store_batch(session, events=events, dead_letters=dead, unknown=unknown)
            if self.on_stored is not None and outcome.new:
                # Same transaction: a button press and the incident it opens commit together.
                await self.on_stored(session, [e.observation() for e in outcome.new])
        for d in dead:
            log.info("dead letter on %s: %s", d.topic, d.reason)
        return {
            IngestOutcome.STORED.value: len(outcome.new),
            IngestOutcome.DUPLICATE.value: outcome.duplicates,
            IngestOutcome.DEAD_LETTER.value: len(dead),
            IngestOutcome.UNKNOWN_DEVICE.value: len(unknown),
            "ignored": ignored,
        }

    async def _quietly(self, job: Awaitable[Any]) -> None:
        try:
            await job
        except Exception as err:
            log.warning("device registry reload failed: %r; using the cached devices", err)
