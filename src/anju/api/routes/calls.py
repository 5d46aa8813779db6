"""Routes: calling the resident and what the call found; the key holder and access notes on demand.

- ``PUT /users/me/desk-phone``: the signed-in user's desk phone, which a bridged call rings first.
- ``POST /incidents/{id}/calls``: a bridged call to a resident or contact of the incident's home
  through the configured voice provider; written to the timeline before the provider is asked.
- ``POST /incidents/{id}/call-outcome``: the call script's answers, on the timeline as data.
- ``POST /households/{id}/access``: the key holder and access notes; every reading is audited
  (on the incident's timeline when read for one).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.api.responses import SIGNED_IN, problems
from anju.api.schemas import Phone, Schema
from anju.dispatch import access, call_script
from anju.errors import DeliveryFailed, NotFound
from anju.notify.bridge import bridge_provider
from anju.notify.phone import mask_phone
from anju.store.db import transaction
from anju.store.models import Contact, Household, Incident, Resident, User
from anju.web.deps import BodyId, CtxDep, CurrentUser, IdPath, Staff, TextIdPath
from anju.web.session import STAFF_ROLES

router = APIRouter(tags=["calls"], responses=SIGNED_IN)

NO_VOICE = "no voice provider is configured: dial the tel: link instead (未配置语音通道，请直接拨打电话)"
NO_DESK_PHONE = (
    "set your desk phone first: the call rings it, then connects the resident (请先设置您的座机号码)"
)


class DeskPhoneIn(Schema):
    desk_phone: Phone | None


class DeskPhoneOut(Schema):
    desk_phone: str | None


class CallIn(Schema):
    """Whom to call: one resident or one contact of the incident's household."""

    resident_id: BodyId | None = None
    contact_id: BodyId | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CallIn:
        if (self.resident_id is None) == (self.contact_id is None):
            raise ValueError("name exactly one of resident_id and contact_id")
        return self


class CallOut(Schema):
    ref: int
    provider: str
    call_sid: str
    status: Literal["queued"]


class OutcomeIn(Schema):
    #: Question key -> answer value, from the incident's call script.
    answers: dict[str, str] = Field(max_length=20)
    note: str = Field(default="", max_length=2000)


class OutcomeOut(Schema):
    #: The answers as one line in the user's language, and in each console language.
    summary: str
    summaries: dict[str, str]
    suggested_outcome: str | None


class AccessIn(Schema):
    #: The incident it is read for (then written on its timeline as well).
    incident_id: BodyId | None = None


class AccessOut(Schema):
    key_holder: str
    access_notes: str
    #: Their renderings in other languages, as stored (``{"en": {"key_holder": ...}}``).
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)


@router.put("/users/me/desk-phone", response_model=DeskPhoneOut)
async def put_desk_phone(ctx: CtxDep, user: Staff, body: DeskPhoneIn) -> DeskPhoneOut:
    """Set (or clear, with null) the phone on your desk that bridged calls ring first."""
    async with transaction(ctx.db) as session:
        row = await session.get(User, user.id)
        assert row is not None
        old, row.desk_phone = row.desk_phone, body.desk_phone
        await audit.record(
            session,
            at=ctx.clock.now(),
            actor=user.username,
            action="user.desk_phone",
            entity="user",
            entity_id=user.id,
            content={"from": old, "to": body.desk_phone},
        )
    return DeskPhoneOut(desk_phone=body.desk_phone)


async def _incident_for(session: AsyncSession, incident_id: int, user: User) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None or not access.can_view(user, incident):
        raise NotFound(f"incident {incident_id} not found")
    refusal = access.note_refusal(user, incident)
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    return incident


@router.post(
    "/incidents/{incident_id}/calls",
    response_model=CallOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(404, 409, 502),
)
async def post_call(incident_id: IdPath, body: CallIn, ctx: CtxDep, user: CurrentUser) -> CallOut:
    """Ring your desk phone, then connect the resident or contact; both legs go on the timeline."""
    provider = bridge_provider(ctx)
    if provider is None:
        raise HTTPException(status.HTTP_409_CONFLICT, NO_VOICE)
    if not user.desk_phone:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NO_DESK_PHONE)
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        incident = await _incident_for(session, incident_id, user)
        target: Resident | Contact | None
        if body.resident_id is not None:
            target = await session.get(Resident, body.resident_id)
        else:
            target = await session.get(Contact, body.contact_id)
        if target is None or target.household_id != incident.household_id:
            raise NotFound("no such resident or contact in this incident's household")
        if not target.phone:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no phone number on file (未登记电话)")
        entry = await audit.log_incident_event(
            session,
            incident.id,
            at=now,
            actor=user.username,
            kind="call_bridge",
            data={
                "target": "resident" if isinstance(target, Resident) else "contact",
                "target_id": target.id,
                "to_name": target.name,
                # The callee's name as each console language shows it (the timeline renders it).
                "translations": {
                    lang: {"to_name": texts["name"]}
                    for lang, texts in (target.translations or {}).items()
                    if isinstance(texts, dict) and texts.get("name")
                },
                "to_phone": target.phone,
                "desk_phone": user.desk_phone,
                "language": user.language,
                "provider": provider.name,
            },
            content={
                "target_id": target.id,
                "to": mask_phone(target.phone),
                "desk": mask_phone(user.desk_phone),
            },
        )
        ref = entry.id
    try:
        sent = await provider.bridge_call(desk_phone=user.desk_phone, ref=ref)
    except DeliveryFailed as err:
        async with transaction(ctx.db) as session:
            await audit.log_incident_event(
                session,
                incident_id,
                at=ctx.clock.now(),
                actor=user.username,
                kind="call_status",
                note="failed",
                data={"ref": ref, "leg": "desk", "status": "failed", "error": str(err)[:500]},
            )
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"the voice provider refused the call: {err}"
        ) from err
    async with transaction(ctx.db) as session:
        await audit.log_incident_event(
            session,
            incident_id,
            at=ctx.clock.now(),
            actor=user.username,
            kind="call_status",
            note="queued",
            data={"ref": ref, "leg": "desk", "status": "queued", "call_sid": sent.provider_id},
        )
    return CallOut(ref=ref, provider=sent.provider, call_sid=sent.provider_id, status="queued")


@router.post("/incidents/{incident_id}/call-outcome", response_model=OutcomeOut, responses=problems(404))
async def post_call_outcome(
    incident_id: IdPath, body: OutcomeIn, ctx: CtxDep, user: CurrentUser
) -> OutcomeOut:
    """Record the call script's answers (and a note) on the incident's timeline."""
    async with transaction(ctx.db) as session:
        incident = await _incident_for(session, incident_id, user)
        try:
            answers = call_script.check_answers(incident.rule, body.answers)
        except ValueError as err:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
        suggested = call_script.suggested_outcome(answers)
        await audit.log_incident_event(
            session,
            incident.id,
            at=ctx.clock.now(),
            actor=user.username,
            kind="call_outcome",
            note=body.note,
            data={"rule": incident.rule, "answers": answers, "suggested_outcome": suggested},
        )
    return OutcomeOut(
        summary=call_script.summary(answers, incident.rule, user.language),
        summaries={lang: call_script.summary(answers, incident.rule, lang) for lang in ("zh-CN", "en")},
        suggested_outcome=suggested.value if suggested else None,
    )


@router.post("/households/{household_id}/access", response_model=AccessOut, responses=problems(404))
async def post_access(household_id: TextIdPath, body: AccessIn, ctx: CtxDep, user: CurrentUser) -> AccessOut:
    """The key holder and access notes; staff, or the responder sent to an incident of this home."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        household = await session.get(Household, household_id)
        incident = await session.get(Incident, body.incident_id) if body.incident_id else None
        if household is None or (incident is not None and incident.household_id != household_id):
            raise NotFound(f"household {household_id!r} does not exist")
        if incident is None:
            if user.role not in STAFF_ROLES:
                raise HTTPException(status.HTTP_403_FORBIDDEN, "name the incident you were sent to")
            await audit.record(
                session,
                at=now,
                actor=user.username,
                action="household.access_view",
                entity="household",
                entity_id=household_id,
                content={},
            )
        else:
            if not access.can_view(user, incident):
                raise NotFound(f"incident {incident.id} not found")
            await audit.log_incident_event(
                session,
                incident.id,
                at=now,
                actor=user.username,
                kind="access_viewed",
                data={"household_id": household_id},
            )
        renderings = {
            lang: {k: str(v) for k, v in texts.items() if k in ("key_holder", "access_notes")}
            for lang, texts in (household.translations or {}).items()
            if isinstance(texts, dict)
        }
        return AccessOut(
            key_holder=household.key_holder,
            access_notes=household.access_notes,
            translations={lang: texts for lang, texts in renderings.items() if texts},
        )
