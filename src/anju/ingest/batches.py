"""Storing a batch: one transaction, retried through an outage, split when one message is poison.

A batch whose transaction fails is retried with backoff only while the database itself is in
trouble (unreachable, locked). When the database answers and the batch still fails, something in
the batch is poison: the batch is split in halves until the one message that fails is isolated, and
that message alone becomes a dead letter. No batch is retried forever, and one message never holds
back the others (a button press behind it included).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anju.context import Context
from anju.domain import DeviceKind, IngestOutcome
from anju.engine.model import Observation
from anju.ingest.decode import (
    CanaryRecord,
    DeadLetterRecord,
    Decoded,
    IgnoredMessage,
    StoredEvent,
    UnknownDeviceRecord,
    dead_letter,
)
from anju.ingest.persist import store_batch
from anju.ingest.registry import DeviceRegistry
from anju.store.db import is_transient_error, transaction
from anju.store.models import IngestCanary
from anju.store.safe import storable

log = logging.getLogger("anju.ingest.ingestor")

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


class BatchStore:
    """The storing half of the ingestor (``Ingestor`` is the receiving half): commit, retry, split."""

    ctx: Context
    on_stored: OnStored | None
    registry: DeviceRegistry
    stats: IngestStats
    client_id: str
    canary_sent_at: datetime | None
    canary_stored_at: datetime | None
    last_commit_at: datetime | None
    dead_letter_log: DeadLetterLog
    _stop: asyncio.Event

    def _decode(self, m: Inbound) -> Decoded:
        raise NotImplementedError

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
