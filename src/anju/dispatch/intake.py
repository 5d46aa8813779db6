"""Findings become alerts and incidents: a new incident opens, or the household's active one absorbs them.

Functions take the caller's session and never commit (see ``dispatch.changes`` for the lock order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.bus import EventBus
from anju.dispatch.changes import SYSTEM, publish_after_commit
from anju.dispatch.policy import Policies, current_policies
from anju.dispatch.queries import active_incident, household_of
from anju.dispatch.steps import start
from anju.domain import IncidentState, Severity
from anju.engine.model import Finding
from anju.store.models import Alert, Incident
from anju.store.safe import storable_json

#: Alerts below this severity are recorded (the device work list) and join an active incident, but
#: do not open one: a flat battery or a silent sensor must not page the center at night. The
#: engine's device-health rules are all ``low``; ``medium`` and up are about the resident.
OPEN_INCIDENT_MIN = Severity.MEDIUM


@dataclass
class RaiseResult:
    alerts: list[Alert] = field(default_factory=list)
    opened: list[Incident] = field(default_factory=list)
    joined: list[Incident] = field(default_factory=list)


def json_safe(value: Any) -> Any:
    """``value`` as JSON every backend accepts: NaN and ±inf become null, other non-JSON values text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def json_safe_detail(detail: Any) -> dict[str, Any]:
    """A finding's evidence as a JSON object a JSON column never refuses (text escaped, numbers finite)."""
    safe = storable_json(json_safe(detail))
    return safe if isinstance(safe, dict) else {"value": safe}


async def raise_findings(
    session: AsyncSession,
    findings: Iterable[Finding],
    *,
    now: datetime,
    policies: Policies | None = None,
    bus: EventBus | None = None,
) -> RaiseResult:
    """Store each new finding as an alert and open or join the household's incident."""
    result = RaiseResult()
    findings = list(findings)
    if not findings:
        return result
    pol = policies or current_policies()
    await audit.lock_chain(session)
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
            detail=json_safe_detail(finding.detail),
        )
        incident = await active_incident(session, finding.household_id)
        if incident is None and finding.severity.rank >= OPEN_INCIDENT_MIN.rank:
            incident = await _open(session, finding, now=now, policies=pol)
            result.opened.append(incident)
        elif incident is not None:
            await _join(session, incident, finding, now=now, policies=pol)
            if incident not in result.joined and incident not in result.opened:
                result.joined.append(incident)
        alert.incident_id = incident.id if incident is not None else None
        session.add(alert)
        await session.flush()
        await audit.record(
            session,
            at=now,
            actor=SYSTEM,
            action="alert.raise",
            entity="alert",
            entity_id=alert.id,
            content={
                "household_id": finding.household_id,
                "rule": finding.rule.value,
                "severity": finding.severity.value,
                "at": finding.at.isoformat(),
                "incident_id": alert.incident_id,
            },
        )
        result.alerts.append(alert)
    await session.flush()
    for incident in result.opened + result.joined:
        publish_after_commit(session, bus, incident)
    return result


async def _open(session: AsyncSession, finding: Finding, *, now: datetime, policies: Policies) -> Incident:
    household = await household_of(session, finding.household_id)
    incident = Incident(
        household_id=finding.household_id,
        state=IncidentState.OPEN.value,
        severity=finding.severity.value,
        rule=finding.rule.value,
        opened_at=now,
        updated_at=now,
        escalation_policy={},
        escalation_step=0,
    )
    session.add(incident)
    await session.flush()
    await audit.log_incident_event(
        session,
        incident.id,
        at=now,
        actor=SYSTEM,
        kind="opened",
        to_state=IncidentState.OPEN.value,
        data={"rule": finding.rule.value, "severity": finding.severity.value},
        action="incident.open",
        content={
            "household_id": finding.household_id,
            "rule": finding.rule.value,
            "severity": finding.severity.value,
        },
    )
    await start(session, incident, household, policies, now=now)
    await session.flush()
    return incident


async def _join(
    session: AsyncSession, incident: Incident, finding: Finding, *, now: datetime, policies: Policies
) -> None:
    """The household's active incident absorbs the alert; a higher severity raises the incident's."""
    raised = Severity(finding.severity).rank > Severity(incident.severity).rank
    before = incident.severity
    if raised:
        incident.severity = finding.severity.value
    incident.updated_at = now
    await audit.log_incident_event(
        session,
        incident.id,
        at=now,
        actor=SYSTEM,
        kind="alert_joined",
        data={"rule": finding.rule.value, "severity": finding.severity.value, "raised_from": before}
        if raised
        else {"rule": finding.rule.value, "severity": finding.severity.value},
        content={"rule": finding.rule.value, "severity": finding.severity.value, "incident_severity": before},
    )
    if raised and incident.state == IncidentState.OPEN.value:
        # Still unacknowledged: escalate as the new severity demands, starting now.
        household = await household_of(session, incident.household_id)
        await start(session, incident, household, policies, now=now)
    await session.flush()
