"""The ingestor: MQTT messages in, durable records out, acknowledged only once committed.

Flow per batch (up to ``ingest_batch_size`` messages or ``ingest_batch_wait_ms`` after the first):
decode -> one transaction (events deduplicated, dead letters, unknown devices, device status, then
the ``on_stored`` handler with the new observations) -> commit -> acknowledge to the broker. A full
queue stops reading the socket (the broker holds the rest) instead of dropping anything.

Storing a batch — retried through an outage, split when one message is poison — is ``batches``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime
from typing import Any

import paho.mqtt.client as paho

from anju.context import Context
from anju.errors import ConfigError
from anju.ingest.batches import BatchStore, DeadLetterLog, Inbound, IngestStats, OnStored
from anju.ingest.decode import Decoded, Decoder
from anju.ingest.mqtt import BrokerAddress, MqttLink, MqttVersion, parse_mqtt_url
from anju.ingest.profiles import Profile, load_profiles
from anju.ingest.registry import DeviceRegistry
from anju.store.safe import storable

log = logging.getLogger(__name__)

#: Topic prefix of the canary each process publishes to itself (``anju/sys/canary/<client id>``).
CANARY_PREFIX = "anju/sys/canary/"


class Ingestor(BatchStore):
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

    def _decode(self, m: Inbound) -> Decoded:
        if m.topic == self.canary_topic:
            return self.decoder.canary(m.topic, m.payload, m.received_at)
        return self.decoder.decode(m.topic, m.payload, m.received_at, self.registry.lookup)

    async def _quietly(self, job: Awaitable[Any]) -> None:
        try:
            await job
        except Exception as err:
            log.warning("device registry reload failed: %r; using the cached devices", err)


def _topic_level(client_id: str) -> str:
    """A client id as one safe topic level (no wildcards, no separators)."""
    level = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in client_id)
    return level[:64] or "anju"
