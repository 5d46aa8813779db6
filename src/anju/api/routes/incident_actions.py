"""Routes: every action on an incident (transition, note, arrival, hand-over, follow-up), each checked
and applied under the incident's row lock, each answered with the incident as it now stands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from anju.api.responses import SIGNED_IN, problems
from anju.api.routes.incidents import IncidentDetail, incident_detail, visible_incident
from anju.context import Context
from anju.dispatch import access, service
from anju.dispatch.service import InvalidRequest, Responder, ResponderKind
from anju.domain import IncidentState, Outcome
from anju.errors import Conflict, NotFound
from anju.store.db import transaction
from anju.store.models import Incident, User
from anju.web.deps import BodyId, CtxDep, CurrentUser, IdPath

router = APIRouter(tags=["incidents"], responses=SIGNED_IN)
T = TypeVar("T")


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


def _forbid(reason: str | None) -> None:
    if reason is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, reason)


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
        incident = await visible_incident(session, incident_id, user)
        return await incident_detail(session, incident, user)


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
