"""Routes: the dispatch queue, the follow-ups to do, and one incident as every action answers it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.api.responses import SIGNED_IN, problems
from anju.dispatch import access, service
from anju.domain import IncidentState, Role, Severity
from anju.errors import NotFound
from anju.store.models import Alert, Contact, Household, Incident, IncidentEvent, Notification, User
from anju.web.deps import CtxDep, CurrentUser, IdPath, SessionDep, Staff

router = APIRouter(tags=["incidents"], responses=SIGNED_IN)


class IncidentSummary(BaseModel):
    id: int
    household_id: str
    household_name: str = ""
    state: IncidentState
    severity: Severity
    rule: str
    opened_at: datetime
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    owner_id: int | None
    responder_contact_id: int | None
    responder_name: str | None
    responder_kind: str | None
    outcome: str | None
    follow_up_due_at: datetime | None
    follow_up_done_at: datetime | None
    follow_up_waived_reason: str | None
    escalation_step: int
    next_escalation_at: datetime | None
    version: int


class AlertOut(BaseModel):
    id: int
    rule: str
    severity: str
    at: datetime
    raised_at: datetime
    device_id: str | None
    detail: dict[str, Any]


class NotificationOut(BaseModel):
    id: int
    channel: str
    recipient_name: str
    recipient_kind: str
    to_address: str
    language: str
    body: str
    status: str
    step: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class TimelineOut(BaseModel):
    id: int
    at: datetime
    actor: str
    kind: str
    from_state: str | None
    to_state: str | None
    note: str
    data: dict[str, Any]


class HouseholdBrief(BaseModel):
    id: str
    name: str
    address: str
    area: str
    contacts: list[dict[str, Any]]


class IncidentDetail(IncidentSummary):
    resolution_note: str | None
    owner_username: str | None
    household: HouseholdBrief
    alerts: list[AlertOut]
    notifications: list[NotificationOut]
    timeline: list[TimelineOut]
    allowed_transitions: list[str]
    escalation_policy: dict[str, Any]


_SEVERITY_ORDER = case(
    {s.value: s.rank for s in Severity},
    value=Incident.severity,
    else_=-1,
)


def _summary(incident: Incident, household_name: str = "") -> IncidentSummary:
    return IncidentSummary.model_validate(
        {**_columns(incident), "household_name": household_name}, from_attributes=False
    )


def _columns(incident: Incident) -> dict[str, Any]:
    return {c.key: getattr(incident, c.key) for c in Incident.__table__.columns}


async def visible_incident(session: AsyncSession, incident_id: IdPath, user: User) -> Incident:
    """The incident if ``user`` may see it; otherwise 404, so a responder learns nothing of others'."""
    incident = await session.get(Incident, incident_id)
    if incident is None or not access.can_view(user, incident):
        raise NotFound(f"incident {incident_id} not found")
    return incident


@router.get("/incidents", response_model=list[IncidentSummary])
async def list_incidents(
    session: SessionDep,
    user: CurrentUser,
    state: Annotated[
        str | None, Query(description="comma-separated states; default: every state but closed; 'all'")
    ] = None,
    household_id: Annotated[str | None, Query(max_length=64)] = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentSummary]:
    """The dispatch queue: most severe first, then oldest first."""
    q = select(Incident, Household.name).join(Household, Household.id == Incident.household_id)
    if state in (None, ""):
        q = q.where(Incident.state != IncidentState.CLOSED.value)
    elif state != "all":
        try:
            states = [IncidentState(s.strip()).value for s in state.split(",") if s.strip()]
        except ValueError as err:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown state in {state!r}") from err
        q = q.where(Incident.state.in_(states))
    if household_id:
        q = q.where(Incident.household_id == household_id)
    if severity is not None:
        q = q.where(Incident.severity == severity.value)
    if user.role == Role.RESPONDER.value:
        # Responders see only what was dispatched to them (the rule of dispatch.access).
        q = q.where(Incident.responder_contact_id.in_(access.responder_contacts(user)))
    q = q.order_by(_SEVERITY_ORDER.desc(), Incident.opened_at, Incident.id).limit(limit)
    rows = (await session.execute(q)).all()
    return [_summary(inc, name) for inc, name in rows]


@router.get("/incidents/follow-ups", response_model=list[IncidentSummary])
async def list_follow_ups(
    ctx: CtxDep, session: SessionDep, _user: Staff, overdue: bool = False
) -> list[IncidentSummary]:
    """Follow-ups still to do (``overdue=true``: only those past due), oldest due first."""
    incidents = await service.follow_ups(session, now=ctx.clock.now(), overdue=overdue)
    return [_summary(i) for i in incidents]


async def incident_detail(session: AsyncSession, incident: Incident, user: User) -> IncidentDetail:
    """The incident as the API answers it: household, alerts, notifications, timeline, next steps."""
    household = await session.get(Household, incident.household_id)
    assert household is not None
    contacts = (
        await session.scalars(
            select(Contact).where(Contact.household_id == household.id).order_by(Contact.priority, Contact.id)
        )
    ).all()
    alerts = (
        await session.scalars(select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id))
    ).all()
    notes = (
        await session.scalars(
            select(Notification).where(Notification.incident_id == incident.id).order_by(Notification.id)
        )
    ).all()
    events = (
        await session.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
        )
    ).all()
    owner = await session.get(User, incident.owner_id) if incident.owner_id else None
    return IncidentDetail.model_validate(
        {
            **_columns(incident),
            "household_name": household.name,
            "owner_username": owner.username if owner else None,
            "household": {
                "id": household.id,
                "name": household.name,
                "address": household.address,
                "area": household.area,
                "contacts": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "relation": c.relation,
                        "phone": c.phone,
                        "priority": c.priority,
                    }
                    for c in contacts
                ],
            },
            "alerts": [AlertOut.model_validate(a, from_attributes=True) for a in alerts],
            "notifications": [NotificationOut.model_validate(n, from_attributes=True) for n in notes],
            "timeline": [TimelineOut.model_validate(e, from_attributes=True) for e in events],
            "allowed_transitions": access.allowed_transitions(user, incident),
        }
    )


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=problems(404))
async def get_incident(incident_id: IdPath, session: SessionDep, user: CurrentUser) -> IncidentDetail:
    """One incident with its alerts, notifications, timeline and what this user may do next."""
    return await incident_detail(session, await visible_incident(session, incident_id, user), user)
