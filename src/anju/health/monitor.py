"""The health monitor: four checks of the alarm path, evaluated every few seconds in the service.

- ``database``: the database answers ``SELECT 1`` within 2 s.
- ``mqtt``: connected to the broker and subscribed.
- ``ingest``: no message waits while nothing has been committed for ``health_stall_s``.
- ``canary``: the canary this process publishes to itself through the broker (every
  ``canary_interval_s``, and at every evaluation while it fails) is stored within ``canary_deadline_s``.

Each check is a live ``/readyz`` probe with its reason, a gauge ``anju_alarm_path_healthy{check}``
and a counter ``anju_alarm_path_degradations_total{check}``. An episode runs from the first failing
check until every check has held for ``health_recover_s``; once a check has failed for
``health_page_after_s`` the episode is one incident for the on-call supervisor (``incident.py``).

Times shown and stored come from the context's clock; durations are also timed with a real-time
stopwatch and a threshold counts as passed only on both, so a simulated clock that jumps (tests) or
runs fast (``anju demo --speed``) never fakes a stall or a late canary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text

from anju.clock import isoformat
from anju.context import Context
from anju.health.incident import AlarmPathPager, Failure
from anju.ingest.ingestor import Ingestor
from anju.store.safe import storable

log = logging.getLogger(__name__)

DATABASE, MQTT, INGEST, CANARY = "database", "mqtt", "ingest", "canary"
CHECKS = (DATABASE, MQTT, INGEST, CANARY)
#: A database that takes longer than this to answer ``SELECT 1`` is unreachable.
DB_TIMEOUT_S = 2.0
#: Writing the incident of an episode may take this long before it is retried next round.
RECORD_TIMEOUT_S = 10.0

Result = tuple[bool, str]


class Probe:
    """A ``/readyz`` probe: its check evaluated live; ``reason`` says why when it fails."""

    def __init__(self, check: Callable[[], Result]) -> None:
        self._check = check
        self.reason = ""

    def __call__(self) -> bool:
        ok, self.reason = self._check()
        return ok


@dataclass
class CheckState:
    """The last evaluation of one check."""

    ok: bool = True
    reason: str = ""
    failing_since: datetime | None = None
    #: ``time.monotonic()`` when it started failing.
    failing_mono: float = 0.0


@dataclass
class Episode:
    """One degradation, from the first failing check until all have held for the recovery hold."""

    started_at: datetime
    failures: dict[str, Failure] = field(default_factory=dict)
    confirmed_at: datetime | None = None
    healthy_since: datetime | None = None
    healthy_mono: float = 0.0
    incident_id: int | None = None
    reported: set[str] = field(default_factory=set)
    #: Attempts to record it that failed (the database away): the incident then says it is late.
    failed_records: int = 0


class HealthMonitor:
    """Evaluates the checks, keeps the metrics and probes true, and pages once per episode."""

    def __init__(self, ctx: Context, ingestor: Ingestor) -> None:
        self.ctx = ctx
        self.ingestor = ingestor
        settings = ctx.settings
        self.stall_s = settings.health_stall_s
        self.canary_interval_s = settings.canary_interval_s
        self.canary_deadline_s = settings.canary_deadline_s
        self.page_after_s = settings.health_page_after_s
        self.recover_s = settings.health_recover_s
        self.states = {name: CheckState() for name in CHECKS}
        self.episode: Episode | None = None
        self.pager = AlarmPathPager(ctx, client_id=ingestor.client_id)
        self._canary_next: datetime | None = None
        self._canary_awaiting: datetime | None = None
        self._canary_awaiting_mono = 0.0
        #: The stopwatch of ingest progress: when a commit or an empty queue was last observed.
        self._progress_key: tuple[int, datetime | None] | None = None
        self._progress_mono = time.monotonic()
        self._disconnected_since: datetime | None = None
        metrics = ctx.metrics
        for name in CHECKS:
            metrics.alarm_path_healthy.labels(check=name).set(1)
        metrics.ingest_oldest_waiting.set_function(self._oldest_waiting_s)

    def register(self) -> None:
        """Install the live ``/readyz`` probes (the route checks the database itself)."""
        self.ctx.readiness[MQTT] = Probe(self.mqtt)
        self.ctx.readiness[INGEST] = Probe(self.ingest)
        self.ctx.readiness[CANARY] = Probe(self.canary)

    # -- the checks ---------------------------------------------------------------------------

    def mqtt(self) -> Result:
        """Connected to the broker and subscribed."""
        if self.ingestor.connected.is_set():
            self._disconnected_since = None
            return True, ""
        now = self.ctx.clock.now()
        since = self._disconnected_since = self._disconnected_since or now
        address = self.ingestor.link.address
        return False, (
            f"not connected to the MQTT broker {address.host}:{address.port} since {isoformat(since)} "
            f"({(now - since).total_seconds():.0f} s)"
        )

    def ingest(self) -> Result:
        """Messages wait and nothing was committed for the stall time."""
        waiting = self.ingestor.oldest_waiting_since()
        observed_quiet = self._observe_progress()
        if waiting is None:
            return True, ""
        last = self.ingestor.last_commit_at
        quiet_since = max(waiting, last) if last is not None else waiting
        quiet = (self.ctx.clock.now() - quiet_since).total_seconds()
        if min(quiet, observed_quiet) < self.stall_s:
            return True, ""
        return False, (
            f"nothing committed for {quiet:.0f} s (limit {self.stall_s:g} s) while "
            f"{self.ingestor.depth} messages wait, the oldest received at {isoformat(waiting)}"
        )

    def _observe_progress(self) -> float:
        """Real seconds since a commit, or nothing waiting, was last observed."""
        key = (self.ingestor.stats.batches, self.ingestor.last_commit_at)
        now = time.monotonic()
        if key != self._progress_key or self.ingestor.oldest_waiting_since() is None:
            self._progress_key, self._progress_mono = key, now
        return now - self._progress_mono

    def canary(self) -> Result:
        """The oldest canary not yet seen stored is within its deadline."""
        awaiting = self._canary_awaiting
        stored = self.ingestor.canary_sent_at
        if awaiting is None or (stored is not None and stored >= awaiting):
            return True, ""
        late = (self.ctx.clock.now() - awaiting).total_seconds()
        if min(late, time.monotonic() - self._canary_awaiting_mono) <= self.canary_deadline_s:
            return True, ""
        return False, (
            f"the canary published at {isoformat(awaiting)} to {self.ingestor.canary_topic} is not "
            f"stored after {late:.0f} s (deadline {self.canary_deadline_s:g} s)"
        )

    async def database(self) -> Result:
        """The database answers ``SELECT 1`` in time."""
        try:
            async with asyncio.timeout(DB_TIMEOUT_S), self.ctx.db() as session:
                await session.execute(text("SELECT 1"))
        except TimeoutError:
            return False, f"the database gave no answer within {DB_TIMEOUT_S:g} s"
        except Exception as err:
            return False, storable(f"the database is unreachable: {type(err).__name__}: {err}", limit=300)
        return True, ""

    def _oldest_waiting_s(self) -> float:
        waiting = self.ingestor.oldest_waiting_since()
        return 0.0 if waiting is None else max(0.0, (self.ctx.clock.now() - waiting).total_seconds())

    # -- one round ----------------------------------------------------------------------------

    async def evaluate(self) -> None:
        """Publish the canary when due, run every check, set the metrics, then page or record."""
        now = self.ctx.clock.now()
        await self._canary_round(now)
        results = {
            DATABASE: await self.database(),
            MQTT: self.mqtt(),
            INGEST: self.ingest(),
            CANARY: self.canary(),
        }
        for name, (ok, reason) in results.items():
            self._update(name, ok, reason, now)
        metrics = self.ctx.metrics
        metrics.health_evaluated.set(now.timestamp())
        if self.ingestor.canary_stored_at is not None:
            metrics.canary_last_stored.set(self.ingestor.canary_stored_at.timestamp())
        await self._episode_round(now)

    async def _canary_round(self, now: datetime) -> None:
        stored = self.ingestor.canary_sent_at
        if self._canary_awaiting is not None and stored is not None and stored >= self._canary_awaiting:
            self._canary_awaiting = None
        # While it fails, one canary per round: recovery shows within a round, not a canary period.
        due = self._canary_next is None or now >= self._canary_next or not self.states[CANARY].ok
        if not due or not self.ingestor.connected.is_set():
            return  # not connected: the mqtt check says so; a canary that cannot leave proves nothing
        sent_at = await self.ingestor.publish_canary()
        if sent_at is None:
            return  # it did not leave (the connection dropped in between): tried again next round
        self._canary_next = now + timedelta(seconds=self.canary_interval_s)
        if self._canary_awaiting is None:
            self._canary_awaiting, self._canary_awaiting_mono = sent_at, time.monotonic()

    def _update(self, name: str, ok: bool, reason: str, now: datetime) -> None:
        state = self.states[name]
        if ok and not state.ok:
            log.warning(
                "alarm path: %s holds again after %.0f s", name, time.monotonic() - state.failing_mono
            )
            state.failing_since = None
        elif not ok and state.ok:
            state.failing_since, state.failing_mono = now, time.monotonic()
            self.ctx.metrics.alarm_path_degradations.labels(check=name).inc()
            log.error("alarm path: %s fails: %s", name, reason)
        state.ok, state.reason = ok, reason
        self.ctx.metrics.alarm_path_healthy.labels(check=name).set(1 if ok else 0)

    async def _episode_round(self, now: datetime) -> None:
        failing = {n: s for n, s in self.states.items() if not s.ok and s.failing_since is not None}
        episode = self.episode
        if failing:
            if episode is None:
                started = min(s.failing_since for s in failing.values() if s.failing_since is not None)
                episode = self.episode = Episode(started_at=started)
            episode.healthy_since = None
            for name, state in failing.items():
                assert state.failing_since is not None
                episode.failures.setdefault(name, Failure(name, state.failing_since, state.reason))
            longest = time.monotonic() - min(s.failing_mono for s in failing.values())
            if episode.confirmed_at is None and longest >= self.page_after_s:
                episode.confirmed_at = now
        elif episode is not None and episode.healthy_since is None:
            episode.healthy_since, episode.healthy_mono = now, time.monotonic()
        if episode is None:
            return
        held = episode.healthy_since is not None
        recovered = held and time.monotonic() - episode.healthy_mono >= self.recover_s
        if episode.confirmed_at is None:
            if recovered:
                log.warning(
                    "alarm path degraded (%s) from %s and recovered before it paged anyone",
                    ", ".join(sorted(episode.failures)),
                    isoformat(episode.started_at),
                )
                self.episode = None
            return
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_S):
                await self._record(episode, now, recovered)
        except Exception as err:
            # The database may be the very thing that is down: the next round tries again.
            episode.failed_records += 1
            if episode.failed_records == 1:
                log.error("alarm path incident not recorded yet (%r); retrying every round", err)

    async def _record(self, episode: Episode, now: datetime, recovered: bool) -> None:
        assert episode.confirmed_at is not None
        new = [f for name, f in episode.failures.items() if name not in episode.reported]
        if new or episode.incident_id is None:
            episode.incident_id = await self.pager.degraded(
                new,
                started_at=episode.started_at,
                confirmed_at=episode.confirmed_at,
                late=episode.failed_records > 0,
                now=now,
            )
            episode.reported |= {f.check for f in new}
        if recovered and episode.healthy_since is not None:
            await self.pager.recovered(
                episode.incident_id,
                started_at=episode.started_at,
                recovered_at=episode.healthy_since,
                checks=sorted(episode.failures),
                now=now,
            )
            self.episode = None
