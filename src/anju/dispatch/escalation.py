"""Escalation: while an incident stays unacknowledged, its stored policy's steps write to the outbox.

This module is the runner, the steps' timers; what a step writes is in ``dispatch.steps`` and
whom it reaches in ``dispatch.recipients``.

Timers live in the incident row (``escalation_step``, ``next_escalation_at``), so they survive a
restart. A step is claimed with one compare-and-set UPDATE on the row's version, in the same
transaction as the messages it writes: two runners (or a runner racing an acknowledgement) can never
fire the same step twice, and a step due during downtime fires once right after start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.context import Context
from anju.dispatch.changes import publish_after_commit
from anju.dispatch.policy import Policies, current_policies, next_due
from anju.dispatch.recipients import Recipient, add_notification, resolve
from anju.dispatch.steps import fire_step, start
from anju.domain import ACTIVE_STATES, IncidentState, Severity
from anju.notify.chat import group_chat_configured
from anju.store.db import transaction
from anju.store.models import Household, Incident

# With the runner, the calls that start a policy and page someone, for the callers (health, tests)
# that know escalation by this module's name.
__all__ = [
    "BATCH",
    "Recipient",
    "add_notification",
    "escalation_loop",
    "publish_after_commit",
    "refresh_open_gauge",
    "resolve",
    "run_due_escalations",
    "runtime_policies",
    "start",
]

log = logging.getLogger(__name__)

#: Due incidents handled per query; the runner loops until none is due.
BATCH = 50


async def _claim_and_fire(
    session: AsyncSession,
    *,
    incident_id: int,
    version: int,
    k: int,
    due: datetime,
    snap: dict[str, Any],
    now: datetime,
    policies: Policies,
) -> Incident | None:
    """Claim firing ``k`` by compare-and-set on the row's version; fire it if the claim won."""
    claimed = await session.execute(
        update(Incident)
        .where(
            Incident.id == incident_id,
            Incident.version == version,
            Incident.escalation_step == k,
            Incident.state == IncidentState.OPEN.value,
            Incident.next_escalation_at <= now,
        )
        .values(
            escalation_step=k + 1,
            next_escalation_at=next_due(snap, k, due, now),
            version=Incident.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    incident = await session.get(Incident, incident_id, populate_existing=True)
    assert incident is not None
    household = await session.get(Household, incident.household_id)
    assert household is not None
    await fire_step(
        session,
        incident_id=incident_id,
        household=household,
        rule=incident.rule,
        severity=incident.severity,
        snap=snap,
        k=k,
        now=now,
        policies=policies,
    )
    return incident


def runtime_policies(ctx: Context) -> Policies:
    """The policy file of ``ctx``'s rules folder, posting to area groups when a robot is configured."""
    policies = current_policies(ctx.settings.rules_dir / "escalation.toml")
    chat = ctx.notifier.chat is not None if ctx.notifier is not None else group_chat_configured(ctx.settings)
    return dataclasses.replace(policies, group_chat=chat) if chat != policies.group_chat else policies


async def run_due_escalations(ctx: Context, now: datetime, *, policies: Policies | None = None) -> int:
    """Fire every step due at ``now``; returns how many fired. Safe to run in several processes."""
    pol = policies or runtime_policies(ctx)
    fired = 0
    for _round in range(1000):  # bounded: each round fires at most BATCH first-pass steps
        async with ctx.db() as session:
            rows = (
                await session.execute(
                    select(
                        Incident.id,
                        Incident.version,
                        Incident.escalation_step,
                        Incident.next_escalation_at,
                        Incident.escalation_policy,
                    )
                    .where(Incident.state == IncidentState.OPEN.value, Incident.next_escalation_at <= now)
                    .order_by(Incident.next_escalation_at)
                    .limit(BATCH)
                )
            ).all()
        if not rows:
            break
        progressed = 0
        for row in rows:
            try:
                async with transaction(ctx.db) as session:
                    await audit.lock_chain(session)
                    incident = await _claim_and_fire(
                        session,
                        incident_id=row.id,
                        version=row.version,
                        k=row.escalation_step,
                        due=row.next_escalation_at,
                        snap=row.escalation_policy,
                        now=now,
                        policies=pol,
                    )
                    if incident is not None:
                        publish_after_commit(session, ctx.bus, incident)
            except Exception:  # one incident that cannot fire must not hold back every other one
                log.exception("escalation of incident %s failed; retried next pass", row.id)
                continue
            if incident is not None:
                fired += 1
                progressed += 1
        if not progressed:
            break
    return fired


async def refresh_open_gauge(ctx: Context) -> None:
    """``anju_incidents_open{severity}``: incidents not yet resolved."""
    async with ctx.db() as session:
        rows = await session.execute(
            select(Incident.severity, func.count())
            .where(Incident.state.in_([s.value for s in ACTIVE_STATES]))
            .group_by(Incident.severity)
        )
        counts: dict[str, int] = {severity: int(n) for severity, n in rows.all()}
    for sev in Severity:
        ctx.metrics.incidents_open.labels(severity=sev.value).set(counts.get(sev.value, 0))


async def escalation_loop(ctx: Context, stop: asyncio.Event, interval_s: float = 1.0) -> None:
    """Run due steps every ``interval_s`` (real time) until ``stop`` is set; errors are logged, not fatal."""
    ticks = 0
    while not stop.is_set():
        try:
            await run_due_escalations(ctx, ctx.clock.now())
            if ticks % 5 == 0:
                await refresh_open_gauge(ctx)
        except Exception:  # the loop must outlive a database hiccup; the next tick retries
            log.exception("escalation run failed; retrying")
        ticks += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
