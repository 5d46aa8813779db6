"""The pipeline: observations in, alerts and incidents out, in the caller's transaction.

Its invariant: a sensor event, the alerts it causes and the incident they open or join commit in one
transaction, and only then is the MQTT message acknowledged.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from anju import audit
from anju.context import Context
from anju.dispatch import checkins
from anju.dispatch.escalation import runtime_policies
from anju.dispatch.service import RaiseResult, json_safe_detail, raise_findings
from anju.domain import DeviceKind
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.ingest.profiles import Profile, load_profiles
from anju.runtime import snapshots
from anju.store.db import after_commit, is_transient_error, transaction
from anju.store.models import DeadLetter, Device, Household
from anju.store.safe import storable

#: One logger for the whole runtime package, under the name operators already filter on.
log = logging.getLogger("anju.runtime")

#: Edits stamped this long before the previous reload are read again (a transaction in flight then).
RECONFIGURE_MARGIN = timedelta(seconds=60)


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
        # Check-ins first: an answer that came before a deadline reaches the engine before its timer.
        try:
            asked = await self._checkins(now)
        except Exception:
            # A check-in that cannot be moved on must not stop every home's timers: they run, and
            # an unanswered check-in's own deadline is the engine's (it raises the high alert).
            log.exception("check-ins could not be moved on at %s; the engine's timers run regardless", now)
            asked = []
        findings = [*self._unraised, *asked, *self.engine.advance(now)]
        if not findings:
            return 0
        async with transaction(self.ctx.db) as session:
            await self.raise_(session, findings)
            await self._sync_degraded(session, {f.household_id for f in findings})
        self._dirty.update(f.household_id for f in findings)
        return len(findings)

    async def _checkins(self, now: datetime) -> list[Finding]:
        """Move due check-ins on; store the residents' answers as events and give them to the engine."""
        async with self.ctx.db() as session:
            if not await checkins.anything_due(session, now=now):
                return []
        findings: list[Finding] = []
        async with transaction(self.ctx.db) as session:
            await checkins.run_due(session, now=now, bus=self.ctx.bus)
            for a in await checkins.take_answers(session):
                findings.extend(self.engine.answer(a.household_id, a.answer, a.at.timestamp()))
                self._dirty.add(a.household_id)
        return findings

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
        policies = runtime_policies(self.ctx)
        now = self.ctx.clock.now()
        # A check-in finding asks the resident (dispatch.checkins); it opens no operator incident.
        await checkins.open_checkins(
            session, [f for f in findings if checkins.is_checkin(f)], now=now, bus=self.ctx.bus
        )
        others = [f for f in findings if not checkins.is_checkin(f)]
        result = await raise_findings(session, others, now=now, policies=policies, bus=self.ctx.bus)
        await checkins.attach(session, result.alerts, now=now)
        return result

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
        return await snapshots.save(self.ctx, self.engine, ids, dirty=self._dirty)

    async def restore(self) -> tuple[int, int]:
        """Rebuild engine state after a restart: snapshots, then the events stored since them.

        Alerts the replay raises again carry the same keys and are stored once; timers that came
        due while the service was down fire at the next tick.
        """
        restored, replayed, findings = await snapshots.restore(self.ctx, self.engine)
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
