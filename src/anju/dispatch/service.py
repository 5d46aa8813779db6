"""Incident services: the closed loop's transitions, and the calls the API and console make.

A transition moves an incident along one edge of ``domain.TRANSITIONS`` with its timeline entry
and audit record; opening incidents from findings is ``dispatch.intake``, the other recorded
changes ``dispatch.handling``. Functions take the caller's session and never commit, so a change
and its records share one transaction (``dispatch.changes`` holds the lock order).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from anju.bus import EventBus
from anju.dispatch import messages
from anju.dispatch.changes import MAX_NOTE, SYSTEM, InvalidRequest, clean_note, lock_incident, log_change
from anju.dispatch.handling import HANDLER_ROLES, add_note, record_arrival, settle_follow_up, transfer_owner
from anju.dispatch.intake import OPEN_INCIDENT_MIN, RaiseResult, json_safe, json_safe_detail, raise_findings
from anju.dispatch.policy import Policies, current_policies
from anju.dispatch.queries import active_incident, follow_ups, household_of
from anju.dispatch.recipients import Recipient, add_notification
from anju.domain import TRANSITIONS, Channel, IncidentState, Outcome
from anju.errors import InvalidTransition
from anju.store.models import Contact, Incident, User

# The services callers (API, console, runtime, health, tests) know by this module's name.
__all__ = [
    "HANDLER_ROLES",
    "MAX_NOTE",
    "OPEN_INCIDENT_MIN",
    "SYSTEM",
    "InvalidRequest",
    "RaiseResult",
    "Responder",
    "ResponderKind",
    "active_incident",
    "add_note",
    "follow_ups",
    "json_safe",
    "json_safe_detail",
    "lock_incident",
    "raise_findings",
    "record_arrival",
    "settle_follow_up",
    "transfer_owner",
    "transition",
]


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
    note = clean_note(note)
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
        note = clean_note(note, required="resolving needs a note saying what was found and done")
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
    await log_change(
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
    household = await household_of(session, incident.household_id)
    contact = await session.get(Contact, who.contact_id) if who.contact_id else None
    language = contact.language if contact else "zh-CN"
    facts = messages.IncidentFacts(
        incident_id=incident.id,
        household_name=household.name,
        address=household.address,
        rule=incident.rule,
        severity=incident.severity,
    )
    note = await add_notification(
        session,
        incident_id=incident.id,
        channel=Channel.SMS,
        recipient=Recipient(
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
