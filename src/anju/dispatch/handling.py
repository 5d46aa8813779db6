"""What operators record on an incident besides its state: arrival, notes, hand-overs, follow-ups.

Functions take the caller's session and never commit (see ``dispatch.changes`` for the lock order).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from anju.bus import EventBus
from anju.dispatch.changes import InvalidRequest, clean_note, lock_incident, log_change
from anju.domain import IncidentState, Role
from anju.errors import Conflict
from anju.store.models import Incident, IncidentEvent, User

HANDLER_ROLES = frozenset({Role.OPERATOR.value, Role.ADMIN.value})


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
    note = clean_note(note)
    incident.arrived_at = now
    incident.updated_at = now
    await log_change(session, incident, now=now, actor=actor, kind="arrived", note=note, bus=bus)
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
    text_ = clean_note(note, required="a note cannot be empty")
    incident.updated_at = now
    return await log_change(
        session, incident, now=now, actor=actor, kind="note", note=text_, with_event_id=True, bus=bus
    )


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
    text_ = clean_note(note)
    data = {"from_user_id": before, "to_user_id": target.id, "to_username": target.username}
    await log_change(
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
        text_ = clean_note(note)
        incident.follow_up_done_at = now
        kind = "follow_up_done"
    else:
        text_ = clean_note(note, required="waiving a follow-up needs a reason")
        incident.follow_up_waived_reason = text_
        kind = "follow_up_waived"
    incident.updated_at = now
    data = {"due_at": incident.follow_up_due_at.isoformat(), "on_time": now <= incident.follow_up_due_at}
    await log_change(session, incident, now=now, actor=actor, kind=kind, note=text_, data=data, bus=bus)
    return incident
