"""Escalation: while an incident stays unacknowledged, its stored policy's steps write to the outbox.

Timers live in the incident row (``escalation_step``, ``next_escalation_at``), so they survive a
restart. A step is claimed with one compare-and-set UPDATE on the row's version, in the same
transaction as the messages it writes: two runners (or a runner racing an acknowledgement) can never
fire the same step twice, and a step due during downtime fires once right after start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.bus import EventBus
from anju.context import Context
from anju.dispatch import messages
from anju.dispatch.policy import (
    Policies,
    Target,
    current_policies,
    first_due,
    next_due,
    snapshot,
    step_index,
)
from anju.domain import ACTIVE_STATES, Channel, IncidentState, NotificationStatus, Role, Severity
from anju.store.db import after_commit, transaction
from anju.store.models import Contact, Household, Incident, Notification, User

log = logging.getLogger(__name__)

ESCALATION_ACTOR = "escalation"
#: Due incidents handled per query; the runner loops until none is due.
BATCH = 50


@dataclass(frozen=True, kw_only=True)
class Recipient:
    name: str
    kind: str
    address: str
    language: str
    contact_id: int | None = None
    user_id: int | None = None


def incident_message(incident: Incident) -> dict[str, Any]:
    """What the console hears about an incident on the live bus."""
    return {
        "type": "incident",
        "id": incident.id,
        "state": incident.state,
        "severity": incident.severity,
        "household_id": incident.household_id,
        "owner_id": incident.owner_id,
        "escalation_step": incident.escalation_step,
        "version": incident.version,
    }


def publish_after_commit(session: AsyncSession, bus: EventBus | None, incident: Incident) -> None:
    """Tell the console once the change is committed (never about a change that rolled back)."""
    if bus is None:
        return
    after_commit(session, _publisher(bus, incident))


def _publisher(bus: EventBus, incident: Incident) -> Callable[[], None]:
    msg = incident_message(incident)

    def _publish() -> None:
        bus.publish(msg)

    return _publish


# --- Recipients ------------------------------------------------------------------------------------


async def _oncall_supervisor(session: AsyncSession, policies: Policies) -> Recipient | None:
    oc = policies.oncall
    if oc.supervisor_phone:
        return Recipient(
            name=oc.supervisor_name,
            kind="oncall_supervisor",
            address=oc.supervisor_phone,
            language=oc.language,
        )
    # No number in the file: the first active supervisor with a phone on their user record.
    user = await session.scalar(
        select(User)
        .where(User.role == Role.SUPERVISOR.value, User.active.is_(True), User.phone.is_not(None))
        .order_by(User.id)
        .limit(1)
    )
    if user is None or not user.phone:
        return None
    return Recipient(
        name=user.display_name or user.username,
        kind="oncall_supervisor",
        address=user.phone,
        language=user.language,
        user_id=user.id,
    )


async def resolve(
    session: AsyncSession, entry: dict[str, Any], policies: Policies
) -> tuple[list[Recipient], str | None]:
    """The recipients of one notify entry, or the name of whoever could not be reached."""
    to = Target(entry["to"])
    oc = policies.oncall
    if to is Target.DUTY_OPERATORS:
        return [
            Recipient(name="值班坐席 duty operators", kind=to.value, address="console", language="zh-CN")
        ], None
    if to is Target.ONCALL_PHONE:
        if not oc.duty_phone:
            return [], oc.duty_name
        return [
            Recipient(name=oc.duty_name, kind=to.value, address=oc.duty_phone, language=oc.language)
        ], None
    if to is Target.ONCALL_SUPERVISOR:
        sup = await _oncall_supervisor(session, policies)
        return ([sup], None) if sup else ([], oc.supervisor_name)
    if to is Target.CONTACT:
        contact = await session.get(Contact, int(entry["contact_id"]))
        if contact is None or not contact.phone:
            return [], str(entry.get("name") or f"contact {entry['contact_id']}")
        return [
            Recipient(
                name=contact.name,
                kind=f"contact:{contact.relation}",
                address=contact.phone,
                language=contact.language,
                contact_id=contact.id,
            )
        ], None
    # household_contacts left unexpanded: the household had no contacts when the incident opened.
    return [], "家属/联系人 household contacts"


async def add_notification(
    session: AsyncSession,
    *,
    incident_id: int | None,
    channel: Channel,
    recipient: Recipient,
    body: str,
    step: str,
    now: datetime,
    actor: str,
) -> Notification:
    """One outbox row, audited in the caller's transaction; the notify worker delivers it."""
    note = Notification(
        incident_id=incident_id,
        channel=channel.value,
        recipient_name=recipient.name,
        recipient_kind=recipient.kind,
        contact_id=recipient.contact_id,
        user_id=recipient.user_id,
        to_address=recipient.address,
        language=recipient.language,
        body=body,
        status=NotificationStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        step=step,
        created_at=now,
        updated_at=now,
    )
    session.add(note)
    await session.flush()
    await audit.record(
        session,
        at=now,
        actor=actor,
        action="notification.create",
        entity="notification",
        entity_id=note.id,
        content={
            "incident_id": incident_id,
            "channel": channel.value,
            "to": recipient.address,
            "recipient": recipient.name,
            "step": step,
        },
    )
    return note


async def fire_step(
    session: AsyncSession,
    *,
    incident_id: int,
    household: Household,
    rule: str,
    severity: str,
    snap: dict[str, Any],
    k: int,
    now: datetime,
    policies: Policies,
) -> list[Notification]:
    """Write the messages of firing ``k`` (already claimed), its timeline entry and audit record."""
    idx = step_index(snap, k)
    if idx is None:
        return []
    step = snap["steps"][idx]
    facts = messages.IncidentFacts(
        incident_id=incident_id,
        household_name=household.name,
        address=household.address,
        rule=rule,
        severity=severity,
    )
    sent: list[Notification] = []
    gaps: list[str] = []
    for entry in step["notify"]:
        recipients, missing = await resolve(session, entry, policies)
        channel = Channel(entry["channel"])
        for r in recipients:
            sent.append(
                await add_notification(
                    session,
                    incident_id=incident_id,
                    channel=channel,
                    recipient=r,
                    body=messages.alarm(facts, r.language),
                    step=step["name"],
                    now=now,
                    actor=ESCALATION_ACTOR,
                )
            )
        if missing:
            # Nobody to reach on this leg: say so on the console rather than stay silent.
            gaps.append(missing)
            console = Recipient(
                name="值班坐席 duty operators", kind="duty_operators", address="console", language="zh-CN"
            )
            sent.append(
                await add_notification(
                    session,
                    incident_id=incident_id,
                    channel=Channel.CONSOLE,
                    recipient=console,
                    body=messages.unreachable(missing, "zh-CN") + " " + messages.unreachable(missing, "en"),
                    step=f"{step['name']}:unreachable",
                    now=now,
                    actor=ESCALATION_ACTOR,
                )
            )
    data = {
        "step": step["name"],
        "firing": k,
        "repeat": k >= len(snap["steps"]),
        "notifications": [n.id for n in sent],
        "unreachable": gaps,
    }
    await audit.log_incident_event(
        session,
        incident_id,
        at=now,
        actor=ESCALATION_ACTOR,
        kind="escalation",
        note=step["name"],
        data=data,
        action="incident.escalation_step",
        content=data,
    )
    return sent


async def start(
    session: AsyncSession,
    incident: Incident,
    household: Household,
    policies: Policies,
    *,
    now: datetime,
) -> None:
    """Copy the severity's policy into the incident and fire the steps due at once, in this transaction."""
    contacts = (
        await session.execute(
            select(Contact.id, Contact.name)
            .where(Contact.household_id == household.id)
            .order_by(Contact.priority, Contact.id)
        )
    ).all()
    policy = policies.by_severity[Severity(incident.severity)]
    snap = snapshot(policy, [(c.id, c.name) for c in contacts])
    incident.escalation_policy = snap
    incident.escalation_step = 0
    incident.next_escalation_at = first_due(snap, now)
    await fire_inline(session, incident, household, policies, now=now)


async def fire_inline(
    session: AsyncSession, incident: Incident, household: Household, policies: Policies, *, now: datetime
) -> None:
    """Fire the steps already due on an incident this transaction holds (opened or re-escalated here)."""
    snap = incident.escalation_policy
    for _ in range(len(snap.get("steps", [])) + 1):
        due = incident.next_escalation_at
        if due is None or due > now or incident.state != IncidentState.OPEN.value:
            return
        k = incident.escalation_step
        await fire_step(
            session,
            incident_id=incident.id,
            household=household,
            rule=incident.rule,
            severity=incident.severity,
            snap=snap,
            k=k,
            now=now,
            policies=policies,
        )
        incident.escalation_step = k + 1
        incident.next_escalation_at = next_due(snap, k, due, now)
        incident.updated_at = now


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


async def run_due_escalations(ctx: Context, now: datetime, *, policies: Policies | None = None) -> int:
    """Fire every step due at ``now``; returns how many fired. Safe to run in several processes."""
    pol = policies or current_policies(ctx.settings.rules_dir / "escalation.toml")
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
