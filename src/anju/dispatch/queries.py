"""Looking incidents up: a household's active incident, the follow-ups still to do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.domain import ACTIVE_STATES, IncidentState
from anju.errors import NotFound
from anju.store.models import Household, Incident


async def active_incident(session: AsyncSession, household_id: str) -> Incident | None:
    return await session.scalar(
        select(Incident)
        .where(Incident.household_id == household_id, Incident.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(Incident.id)
        .limit(1)
    )


async def household_of(session: AsyncSession, household_id: str) -> Household:
    """The household, or NotFound."""
    household = await session.get(Household, household_id)
    if household is None:
        raise NotFound(f"household {household_id!r} not found")
    return household


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
