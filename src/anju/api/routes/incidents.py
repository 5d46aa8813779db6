"""Routes: the dispatch queue, one incident, and every action on it (transition, note, arrival, ...)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from anju.api.responses import SIGNED_IN, problems
from anju.context import Context
from anju.dispatch import access, service
from anju.dispatch.service import InvalidRequest, Responder, ResponderKind
from anju.domain import IncidentState, Outcome, Role, Severity
from anju.errors import Conflict, NotFound
from anju.store.db import transaction
from anju.store.models import Alert, Contact, Household, Incident, IncidentEvent, Notification, User
from anju.web.deps import BodyId, CtxDep, CurrentUser, IdPath, SessionDep, Staff

router = APIRouter(tags=["incidents"], responses=SIGNED_IN)
T = TypeVar("T")


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


class TransitionIn(BaseModel):
    to: IncidentState
    note: str = Field(default="", max_length=service.MAX_NOTE)
    outcome: Outcome | None = None
    responder_contact_id: BodyId | None = None
    responder_name: str | None = Field(default=None, max_length=128)
    responder_kind: ResponderKind | None = None
    responder_phone: str | None = Field(default=None, max_length=32)


class NoteIn(BaseModel):
    note: str = Field(max_length=service.MAX_NOTE)


class ArrivalIn(BaseModel):
    note: str = Field(default="", max_length=service.MAX_NOTE)


class OwnerIn(BaseModel):
    user_id: BodyId
    note: str = Field(default="", max_length=service.MAX_NOTE)


class FollowUpIn(BaseModel):
    action: Literal["done", "waive"]
    note: str = Field(default="", max_length=service.MAX_NOTE)


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


def _forbid(reason: str | None) -> None:
    if reason is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, reason)


async def _visible(session: AsyncSession, incident_id: IdPath, user: User) -> Incident:
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
        # Responders see only what was dispatched to them.
        q = q.where(
            Incident.responder_contact_id == user.contact_id, Incident.responder_contact_id.is_not(None)
        )
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


async def _detail(session: AsyncSession, incident: Incident, user: User) -> IncidentDetail:
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
    return await _detail(session, await _visible(session, incident_id, user), user)


async def _act(
    ctx: Context,
    incident_id: IdPath,
    user: User,
    check: Callable[[User, Incident], str | None],
    change: Callable[[AsyncSession], Awaitable[T]],
) -> IncidentDetail:
    """Lock, check the user's right on the locked row, change, commit; then read back the result."""
    try:
        async with transaction(ctx.db) as session:
            incident = await service.lock_incident(session, incident_id)
            if not access.can_view(user, incident):
                raise NotFound(f"incident {incident_id} not found")
            _forbid(check(user, incident))
            await change(session)
    except StaleDataError as err:
        raise Conflict(f"incident {incident_id} changed meanwhile; reload and try again") from err
    except InvalidRequest as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    async with ctx.db() as session:
        incident = await _visible(session, incident_id, user)
        return await _detail(session, incident, user)


def _actor(user: User) -> str:
    return user.username


@router.post(
    "/incidents/{incident_id}/transitions", response_model=IncidentDetail, responses=problems(404, 409)
)
async def post_transition(
    incident_id: IdPath, body: TransitionIn, ctx: CtxDep, user: CurrentUser
) -> IncidentDetail:
    """Move the incident along the closed loop; an edge the state machine lacks is 409."""
    responder = None
    if body.to is IncidentState.DISPATCHED:
        responder = Responder(
            contact_id=body.responder_contact_id,
            name=body.responder_name,
            kind=body.responder_kind,
            phone=body.responder_phone,
        )
    return await _act(
        ctx,
        incident_id,
        user,
        lambda u, i: access.transition_refusal(u, i, body.to),
        lambda s: service.transition(
            s,
            incident_id,
            to=body.to,
            actor=_actor(user),
            now=ctx.clock.now(),
            note=body.note,
            outcome=body.outcome.value if body.outcome else None,
            user=user,
            responder=responder,
            bus=ctx.bus,
        ),
    )


@router.post("/incidents/{incident_id}/notes", response_model=IncidentDetail, responses=problems(404, 409))
async def post_note(incident_id: IdPath, body: NoteIn, ctx: CtxDep, user: CurrentUser) -> IncidentDetail:
    return await _act(
        ctx,
        incident_id,
        user,
        access.note_refusal,
        lambda s: service.add_note(
            s, incident_id, actor=_actor(user), now=ctx.clock.now(), note=body.note, bus=ctx.bus
        ),
    )


@router.post("/incidents/{incident_id}/arrival", response_model=IncidentDetail, responses=problems(404, 409))
async def post_arrival(
    incident_id: IdPath, body: ArrivalIn, ctx: CtxDep, user: CurrentUser
) -> IncidentDetail:
    """The responder is on site (stamps arrived_at; the state stays ``dispatched``)."""
    return await _act(
        ctx,
        incident_id,
        user,
        access.act_refusal,
        lambda s: service.record_arrival(
            s, incident_id, actor=_actor(user), now=ctx.clock.now(), note=body.note, bus=ctx.bus
        ),
    )


@router.post("/incidents/{incident_id}/owner", response_model=IncidentDetail, responses=problems(404, 409))
async def post_owner(incident_id: IdPath, body: OwnerIn, ctx: CtxDep, user: CurrentUser) -> IncidentDetail:
    """Hand the incident over to another operator (recorded on the timeline and in the audit)."""
    return await _act(
        ctx,
        incident_id,
        user,
        access.transfer_refusal,
        lambda s: service.transfer_owner(
            s,
            incident_id,
            to_user_id=body.user_id,
            actor=_actor(user),
            now=ctx.clock.now(),
            note=body.note,
            bus=ctx.bus,
        ),
    )


@router.post(
    "/incidents/{incident_id}/follow-up", response_model=IncidentDetail, responses=problems(404, 409)
)
async def post_follow_up(
    incident_id: IdPath, body: FollowUpIn, ctx: CtxDep, user: CurrentUser
) -> IncidentDetail:
    """Mark the follow-up done, or waive it with a reason."""
    return await _act(
        ctx,
        incident_id,
        user,
        lambda u, _i: access.follow_up_refusal(u),
        lambda s: service.settle_follow_up(
            s,
            incident_id,
            actor=_actor(user),
            now=ctx.clock.now(),
            done=body.action == "done",
            note=body.note,
            bus=ctx.bus,
        ),
    )
