"""Incident services: findings become alerts and incidents; transitions follow the closed loop.

Functions take the caller's session and never commit, so a change and its timeline and audit
records share one transaction. Each write first takes the audit chain lock, then the incident's row
lock, always in that order, so concurrent writers queue instead of deadlocking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.bus import EventBus
from anju.dispatch import escalation, messages
from anju.dispatch.policy import Policies, current_policies
from anju.domain import ACTIVE_STATES, TRANSITIONS, Channel, IncidentState, Outcome, Role, Severity
from anju.engine.model import Finding
from anju.errors import AnjuError, Conflict, InvalidTransition, NotFound
from anju.store.models import Alert, Contact, Household, Incident, IncidentEvent, User
from anju.store.safe import storable_json

SYSTEM = "system"
#: Alerts below this severity are recorded (the device work list) and join an active incident, but
#: do not open one: a flat battery or a silent sensor must not page the center at night. The
#: engine's device-health rules are all ``low``; ``medium`` and up are about the resident.
OPEN_INCIDENT_MIN = Severity.MEDIUM
MAX_NOTE = 4000


class InvalidRequest(AnjuError):
    """The request lacks something the step needs (an outcome, a note, a responder)."""


class ResponderKind(StrEnum):
    GRID_WORKER = "grid_worker"
    FAMILY = "family"
    NEIGHBOUR = "neighbour"
    AMBULANCE = "ambulance"


@dataclass(frozen=True, kw_only=True)
class Responder:
    """Who is sent on site: one of the household's contacts, or named here."""

    contact_id: int | None = None
    name: str | None = None
    kind: ResponderKind | None = None
    phone: str | None = None


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


async def active_incident(session: AsyncSession, household_id: str) -> Incident | None:
    return await session.scalar(
        select(Incident)
        .where(Incident.household_id == household_id, Incident.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(Incident.id)
        .limit(1)
    )


async def _log_change(
    session: AsyncSession,
    incident: Incident,
    *,
    now: datetime,
    actor: str,
    kind: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    content: dict[str, Any] | None = None,
    with_event_id: bool = False,
    bus: EventBus | None = None,
) -> IncidentEvent:
    """One change to an incident: its timeline entry and audit record ``incident.<kind>`` in the
    caller's transaction, and a live update for the console once that commits."""
    ev = await audit.log_incident_event(
        session,
        incident.id,
        at=now,
        actor=actor,
        kind=kind,
        note=note,
        data=data,
        from_state=from_state,
        to_state=to_state,
        content=content,
        with_event_id=with_event_id,
    )
    escalation.publish_after_commit(session, bus, incident)
    return ev


async def _household(session: AsyncSession, household_id: str) -> Household:
    household = await session.get(Household, household_id)
    if household is None:
        raise NotFound(f"household {household_id!r} not found")
    return household


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
        escalation.publish_after_commit(session, bus, incident)
    return result


async def _open(session: AsyncSession, finding: Finding, *, now: datetime, policies: Policies) -> Incident:
    household = await _household(session, finding.household_id)
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
    await escalation.start(session, incident, household, policies, now=now)
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
        household = await _household(session, incident.household_id)
        await escalation.start(session, incident, household, policies, now=now)
    await session.flush()


async def lock_incident(session: AsyncSession, incident_id: int) -> Incident:
    """The incident, locked for this transaction (audit chain lock first, then the row)."""
    await audit.lock_chain(session)
    incident = await session.scalar(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def _clean_note(note: str | None, *, required: str | None = None) -> str:
    text_ = (note or "").strip()
    if required and not text_:
        raise InvalidRequest(required)
    if len(text_) > MAX_NOTE:
        raise InvalidRequest(f"a note has at most {MAX_NOTE} characters")
    return text_


async def _responder_fields(
    session: AsyncSession, incident: Incident, responder: Responder | None
) -> Responder:
    if responder is None:
        raise InvalidRequest(
            "dispatch needs a responder: responder_contact_id, or responder_name and responder_kind"
        )
    if responder.contact_id is not None:
        contact = await session.get(Contact, responder.contact_id)
        if contact is None or contact.household_id != incident.household_id:
            raise InvalidRequest(f"contact {responder.contact_id} is not a contact of this household")
        kind = responder.kind or _kind_of_relation(contact.relation)
        return Responder(contact_id=contact.id, name=contact.name, kind=kind, phone=contact.phone)
    name = (responder.name or "").strip()
    if not name or responder.kind is None:
        raise InvalidRequest("a responder named here needs responder_name and responder_kind")
    return Responder(name=name[:128], kind=responder.kind, phone=(responder.phone or "").strip() or None)


def _kind_of_relation(relation: str) -> ResponderKind:
    try:
        return ResponderKind(relation)
    except ValueError:
        return ResponderKind.FAMILY


async def transition(
    session: AsyncSession,
    incident_id: int,
    *,
    to: IncidentState,
    actor: str,
    now: datetime,
    note: str = "",
    outcome: str | None = None,
    user: User | None = None,
    responder: Responder | None = None,
    policies: Policies | None = None,
    bus: EventBus | None = None,
) -> Incident:
    """Move an incident along one edge of the closed loop, with its timeline and audit record.

    An illegal edge raises InvalidTransition (HTTP 409) and changes nothing; a missing outcome,
    note or responder raises InvalidRequest (HTTP 422).
    """
    incident = await lock_incident(session, incident_id)
    current = IncidentState(incident.state)
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, to.value)
    note = _clean_note(note)
    data: dict[str, Any] = {}
    if to is IncidentState.ACKNOWLEDGED:
        incident.acknowledged_at = now
        if user is not None and incident.owner_id is None:
            incident.owner_id = user.id  # 首问责任制: the first to acknowledge owns it
            data["owner_id"] = user.id
        incident.next_escalation_at = None
    elif to is IncidentState.DISPATCHED:
        who = await _responder_fields(session, incident, responder)
        incident.dispatched_at = now
        incident.responder_contact_id = who.contact_id
        incident.responder_name = who.name
        incident.responder_kind = who.kind.value if who.kind else None
        data["responder"] = {"contact_id": who.contact_id, "name": who.name, "kind": _kind_value(who)}
        if who.phone:
            data["notification_id"] = await _ask_responder(session, incident, who, actor=actor, now=now)
    elif to is IncidentState.RESOLVED:
        try:
            result = Outcome(outcome or "")
        except ValueError as err:
            allowed = ", ".join(o.value for o in Outcome)
            raise InvalidRequest(f"resolving needs an outcome, one of: {allowed}") from err
        note = _clean_note(note, required="resolving needs a note saying what was found and done")
        incident.outcome = result.value
        incident.resolution_note = note
        incident.resolved_at = now
        incident.next_escalation_at = None
        pol = policies or current_policies()
        incident.follow_up_due_at = pol.follow_up_due(result, now)
        data["outcome"] = result.value
        data["follow_up_due_at"] = (
            incident.follow_up_due_at.isoformat() if incident.follow_up_due_at else None
        )
    elif to is IncidentState.FOLLOW_UP:
        if incident.follow_up_due_at is None:
            incident.follow_up_due_at = now  # a follow-up the operator chose to do although none was due
        data["follow_up_due_at"] = incident.follow_up_due_at.isoformat()
    elif to is IncidentState.CLOSED:
        if (
            incident.follow_up_due_at is not None
            and incident.follow_up_done_at is None
            and not incident.follow_up_waived_reason
        ):
            raise InvalidTransition(
                current.value, to.value, "the follow-up is neither done nor waived with a reason"
            )
        incident.closed_at = now
    incident.state = to.value
    incident.updated_at = now
    await _log_change(
        session,
        incident,
        now=now,
        actor=actor,
        kind="transition",
        note=note,
        data=data,
        from_state=current.value,
        to_state=to.value,
        content={"from": current.value, "to": to.value, "note": note, **data},
        bus=bus,
    )
    return incident


def _kind_value(who: Responder) -> str | None:
    return who.kind.value if who.kind else None


async def _ask_responder(
    session: AsyncSession, incident: Incident, who: Responder, *, actor: str, now: datetime
) -> int:
    """An SMS to the responder with the address: they may be on the road before the call ends."""
    household = await _household(session, incident.household_id)
    contact = await session.get(Contact, who.contact_id) if who.contact_id else None
    language = contact.language if contact else "zh-CN"
    facts = messages.IncidentFacts(
        incident_id=incident.id,
        household_name=household.name,
        address=household.address,
        rule=incident.rule,
        severity=incident.severity,
    )
    note = await escalation.add_notification(
        session,
        incident_id=incident.id,
        channel=Channel.SMS,
        recipient=escalation.Recipient(
            name=who.name or "",
            kind=f"responder:{_kind_value(who)}",
            address=who.phone or "",
            language=language,
            contact_id=who.contact_id,
        ),
        body=messages.dispatch_request(facts, language),
        step="dispatch",
        now=now,
        actor=actor,
    )
    return note.id


async def record_arrival(
    session: AsyncSession,
    incident_id: int,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    bus: EventBus | None = None,
) -> Incident:
    """The responder is on site: stamps ``arrived_at`` once, without a state change."""
    incident = await lock_incident(session, incident_id)
    if incident.state != IncidentState.DISPATCHED.value:
        raise Conflict(f"arrival is recorded on a dispatched incident, this one is {incident.state!r}")
    if incident.arrived_at is not None:
        raise Conflict(f"arrival was already recorded at {incident.arrived_at.isoformat()}")
    note = _clean_note(note)
    incident.arrived_at = now
    incident.updated_at = now
    await _log_change(session, incident, now=now, actor=actor, kind="arrived", note=note, bus=bus)
    return incident


async def add_note(
    session: AsyncSession,
    incident_id: int,
    *,
    actor: str,
    now: datetime,
    note: str,
    bus: EventBus | None = None,
) -> IncidentEvent:
    """A free-text note on the timeline (calls made, what the family said)."""
    incident = await lock_incident(session, incident_id)
    text_ = _clean_note(note, required="a note cannot be empty")
    incident.updated_at = now
    return await _log_change(
        session, incident, now=now, actor=actor, kind="note", note=text_, with_event_id=True, bus=bus
    )


HANDLER_ROLES = frozenset({Role.OPERATOR.value, Role.ADMIN.value})


async def transfer_owner(
    session: AsyncSession,
    incident_id: int,
    *,
    to_user_id: int,
    actor: str,
    now: datetime,
    note: str = "",
    bus: EventBus | None = None,
) -> Incident:
    """Hand the incident over to another operator: an explicit, recorded transfer."""
    incident = await lock_incident(session, incident_id)
    if incident.state in (IncidentState.OPEN.value, IncidentState.CLOSED.value):
        raise Conflict(
            f"an incident is handed over between acknowledgement and closing, this one is {incident.state!r}"
        )
    target = await session.get(User, to_user_id)
    if target is None or not target.active or target.role not in HANDLER_ROLES:
        raise InvalidRequest(f"user {to_user_id} is not an active operator")
    if target.id == incident.owner_id:
        raise Conflict(f"{target.username!r} already owns incident {incident_id}")
    before = incident.owner_id
    incident.owner_id = target.id
    incident.updated_at = now
    text_ = _clean_note(note)
    data = {"from_user_id": before, "to_user_id": target.id, "to_username": target.username}
    await _log_change(
        session, incident, now=now, actor=actor, kind="owner_transfer", note=text_, data=data, bus=bus
    )
    return incident


async def settle_follow_up(
    session: AsyncSession,
    incident_id: int,
    *,
    actor: str,
    now: datetime,
    done: bool,
    note: str = "",
    bus: EventBus | None = None,
) -> Incident:
    """Mark the follow-up done, or waive it with a reason; either lets the incident close."""
    incident = await lock_incident(session, incident_id)
    if incident.state not in (IncidentState.RESOLVED.value, IncidentState.FOLLOW_UP.value):
        raise Conflict(f"a follow-up is settled after resolution, this incident is {incident.state!r}")
    if incident.follow_up_due_at is None:
        raise Conflict("no follow-up is scheduled for this incident")
    if incident.follow_up_done_at is not None or incident.follow_up_waived_reason:
        raise Conflict("the follow-up is already settled")
    if done:
        text_ = _clean_note(note)
        incident.follow_up_done_at = now
        kind = "follow_up_done"
    else:
        text_ = _clean_note(note, required="waiving a follow-up needs a reason")
        incident.follow_up_waived_reason = text_
        kind = "follow_up_waived"
    incident.updated_at = now
    data = {"due_at": incident.follow_up_due_at.isoformat(), "on_time": now <= incident.follow_up_due_at}
    await _log_change(session, incident, now=now, actor=actor, kind=kind, note=text_, data=data, bus=bus)
    return incident


async def follow_ups(session: AsyncSession, *, now: datetime, overdue: bool) -> list[Incident]:
    """Follow-ups not yet done or waived (only those past due with ``overdue``), oldest due first."""
    q = select(Incident).where(
        Incident.follow_up_due_at.is_not(None),
        Incident.follow_up_done_at.is_(None),
        Incident.follow_up_waived_reason.is_(None),
        Incident.state != IncidentState.CLOSED.value,
    )
    if overdue:
        q = q.where(Incident.follow_up_due_at < now)
    return list((await session.scalars(q.order_by(Incident.follow_up_due_at, Incident.id))).all())
