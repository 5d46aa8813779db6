"""The audit floor: the tamper-evident chain and the one call that writes a timeline entry with it.

Below dispatch, notify and the web layer, so every floor above can record what it did without
importing the incident state machine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from anju.audit.chain import (
    CHAIN_LOCK_KEY,
    GENESIS,
    ChainBreak,
    ChainHead,
    lock_chain,
    record,
    record_hash,
    verify,
    verify_chain,
    verify_database,
)
from anju.store.models import IncidentEvent

__all__ = [
    "CHAIN_LOCK_KEY",
    "GENESIS",
    "ChainBreak",
    "ChainHead",
    "lock_chain",
    "log_incident_event",
    "record",
    "record_hash",
    "timeline_entry",
    "verify",
    "verify_chain",
    "verify_database",
]


def timeline_entry(
    incident_id: int,
    *,
    at: datetime,
    actor: str,
    kind: str,
    note: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """One entry of the incident's timeline, not yet added to a session."""
    return IncidentEvent(
        incident_id=incident_id,
        at=at,
        actor=actor,
        kind=kind,
        note=note,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )


async def log_incident_event(
    session: AsyncSession,
    incident_id: int,
    *,
    at: datetime,
    actor: str,
    kind: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    action: str | None = None,
    content: dict[str, Any] | None = None,
    with_event_id: bool = False,
    entity: str = "incident",
    entity_id: str | int | None = None,
) -> IncidentEvent:
    """Write the timeline entry and its audit record together, in the caller's transaction.

    The audit action is ``incident.<kind>`` unless ``action`` says otherwise; its content is the
    entry's data and note unless ``content`` is given, plus the entry's id with ``with_event_id``.
    The record is about the incident unless ``entity`` and ``entity_id`` name what changed (the
    notification a reply or a fallback was about).
    """
    data = data or {}
    ev = timeline_entry(
        incident_id,
        at=at,
        actor=actor,
        kind=kind,
        note=note,
        from_state=from_state,
        to_state=to_state,
        data=data,
    )
    session.add(ev)
    await session.flush()
    body = content if content is not None else {**data, "note": note}
    if with_event_id:
        body = {**body, "event_id": ev.id}
    await record(
        session,
        at=at,
        actor=actor,
        action=action or f"incident.{kind}",
        entity=entity,
        entity_id=incident_id if entity_id is None else entity_id,
        content=body,
    )
    return ev
