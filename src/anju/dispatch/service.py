"""Incident services: findings become alerts and incidents; transitions follow the closed loop.

Functions take the caller's session and never commit, so a change and its timeline and audit
records share one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.dispatch import audit
from anju.domain import ACTIVE_STATES, TRANSITIONS, IncidentState, Severity
from anju.engine.model import Finding
from anju.errors import InvalidTransition, NotFound
from anju.store.models import Alert, Incident, IncidentEvent

SYSTEM = "system"
#: Alerts below this severity are recorded (device work list) and join an active incident,
#: but do not open one: a flat battery must not page the center.
OPEN_INCIDENT_MIN = Severity.MEDIUM


@dataclass
class RaiseResult:
    alerts: list[Alert] = field(default_factory=list)
    opened: list[Incident] = field(default_factory=list)
    joined: list[Incident] = field(default_factory=list)


async def active_incident(session: AsyncSession, household_id: str) -> Incident | None:
    return await session.scalar(
        select(Incident)
        .where(Incident.household_id == household_id, Incident.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(Incident.id)
        .limit(1)
    )


def timeline(
    incident: Incident,
    *,
    at: datetime,
    actor: str,
    kind: str,
    note: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    ev = IncidentEvent(
        incident_id=incident.id,
        at=at,
        actor=actor,
        kind=kind,
        note=note,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )
    return ev


async def raise_findings(session: AsyncSession, findings: Iterable[Finding], *, now: datetime) -> RaiseResult:
    """Store each new finding as an alert and open or join the household's incident."""
    result = RaiseResult()
    for finding in findings:
        exists = await session.scalar(
            select(Alert.id).where(
                Alert.household_id == finding.household_id,
                Alert.rule == finding.rule.value,
                Alert.key == finding.key,
            )
        )
        if exists is not None:
            continue
        alert = Alert(
            household_id=finding.household_id,
            rule=finding.rule.value,
            severity=finding.severity.value,
            at=finding.at,
            raised_at=now,
            device_id=finding.device_id,
            key=finding.key,
            detail=finding.detail,
        )
        incident = await active_incident(session, finding.household_id)
        if incident is None and finding.severity.rank >= OPEN_INCIDENT_MIN.rank:
            incident = Incident(
                household_id=finding.household_id,
                state=IncidentState.OPEN.value,
                severity=finding.severity.value,
                rule=finding.rule.value,
                opened_at=now,
                updated_at=now,
            )
            session.add(incident)
            await session.flush()
            session.add(
                timeline(
                    incident,
                    at=now,
                    actor=SYSTEM,
                    kind="opened",
                    to_state="open",
                    data={"rule": finding.rule.value, "severity": finding.severity.value},
                )
            )
            await audit.record(
                session,
                at=now,
                actor=SYSTEM,
                action="incident.open",
                entity="incident",
                entity_id=incident.id,
                content={
                    "household_id": finding.household_id,
                    "rule": finding.rule.value,
                    "severity": finding.severity.value,
                },
            )
            result.opened.append(incident)
        elif incident is not None:
            if Severity(finding.severity).rank > Severity(incident.severity).rank:
                incident.severity = finding.severity.value
                incident.updated_at = now
            session.add(
                timeline(
                    incident,
                    at=now,
                    actor=SYSTEM,
                    kind="alert_joined",
                    data={"rule": finding.rule.value, "severity": finding.severity.value},
                )
            )
            result.joined.append(incident)
        alert.incident_id = incident.id if incident is not None else None
        session.add(alert)
        result.alerts.append(alert)
    await session.flush()
    return result


async def transition(
    session: AsyncSession,
    incident_id: int,
    *,
    to: IncidentState,
    actor: str,
    now: datetime,
    note: str = "",
    outcome: str | None = None,
) -> Incident:
    """Move an incident along one edge of the closed loop, with its timeline and audit record."""
    incident = await session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    current = IncidentState(incident.state)
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, to.value)
    incident.state = to.value
    incident.updated_at = now
    stamp = {
        IncidentState.ACKNOWLEDGED: "acknowledged_at",
        IncidentState.DISPATCHED: "dispatched_at",
        IncidentState.RESOLVED: "resolved_at",
        IncidentState.CLOSED: "closed_at",
    }.get(to)
    if stamp:
        setattr(incident, stamp, now)
    if outcome is not None:
        incident.outcome = outcome
    session.add(
        timeline(
            incident,
            at=now,
            actor=actor,
            kind="transition",
            note=note,
            from_state=current.value,
            to_state=to.value,
            data={"outcome": outcome} if outcome else {},
        )
    )
    await audit.record(
        session,
        at=now,
        actor=actor,
        action="incident.transition",
        entity="incident",
        entity_id=incident.id,
        content={"from": current.value, "to": to.value, "note": note, "outcome": outcome},
    )
    await session.flush()
    return incident
