"""One change to an incident: the lock order, a note's limits, the record and the console's update.

Every writer takes the audit chain lock first, then the incident's row lock, always in that order,
so concurrent writers queue instead of deadlocking. Nothing here commits: a change and its timeline
and audit records share the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.bus import EventBus
from anju.errors import AnjuError, NotFound
from anju.store.db import after_commit
from anju.store.models import Incident, IncidentEvent

SYSTEM = "system"
MAX_NOTE = 4000


class InvalidRequest(AnjuError):
    """The request lacks something the step needs (an outcome, a note, a responder)."""


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


def clean_note(note: str | None, *, required: str | None = None) -> str:
    """The note trimmed; InvalidRequest when it is ``required`` and empty, or too long."""
    text_ = (note or "").strip()
    if required and not text_:
        raise InvalidRequest(required)
    if len(text_) > MAX_NOTE:
        raise InvalidRequest(f"a note has at most {MAX_NOTE} characters")
    return text_


async def log_change(
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
    publish_after_commit(session, bus, incident)
    return ev
