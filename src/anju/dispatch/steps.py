"""What an escalation step does: the policy copied into the incident, and each firing's messages.

A firing writes one outbox row per recipient (or a console row naming whoever could not be
reached), then its timeline entry and audit record, all in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.dispatch import messages
from anju.dispatch.policy import Policies, first_due, next_due, snapshot, step_index
from anju.dispatch.recipients import DUTY_OPERATORS, Recipient, add_notification, resolve
from anju.domain import Channel, IncidentState, Severity
from anju.store.models import Contact, Household, Incident, Notification

ESCALATION_ACTOR = "escalation"


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
                    # A group post is written by the notify worker, with the incident's link.
                    body="" if channel is Channel.GROUP else messages.alarm(facts, r.language),
                    step=step["name"],
                    now=now,
                    actor=ESCALATION_ACTOR,
                )
            )
        if missing:
            # Nobody to reach on this leg: say so on the console rather than stay silent.
            gaps.append(missing)
            console = Recipient(
                name=DUTY_OPERATORS, kind="duty_operators", address="console", language="zh-CN"
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
