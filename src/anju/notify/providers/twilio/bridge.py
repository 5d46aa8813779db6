"""Twilio's side of a bridged call: the script that dials the resident, and both legs' progress.

The operator's desk phone is called first (``TwilioProvider.bridge_call``); when it answers, Twilio
fetches ``/twilio/bridge/<ref>/twiml`` and we answer ``<Dial>`` with the number stored in the
timeline entry ``ref``, so no number travels in a URL. The desk leg's status callbacks and the
``<Dial>`` result (the resident's leg) are written to the incident's timeline, audited. Every
request is signed (``webhooks.signed_form``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from twilio.twiml.voice_response import VoiceResponse

from anju.audit import log_incident_event
from anju.context import Context
from anju.notify.providers.twilio.webhooks import TWIML, SignedForm, twilio_settings
from anju.notify.providers.twilio.webhooks import router as webhooks_router
from anju.store.db import transaction
from anju.store.models import IncidentEvent
from anju.vocabulary import is_chinese

log = logging.getLogger("anju.notify.bridge")
# The same documented refusals as the other Twilio webhooks (bad signature 403, bad form 422).
router = APIRouter(
    prefix="/twilio/bridge", tags=["twilio webhooks"], responses=dict(webhooks_router.responses)
)

#: The timeline entry a bridged call starts with; its id is the call's reference in every URL.
BRIDGE_KIND = "call_bridge"
STATUS_KIND = "call_status"
#: Twilio ``CallStatus`` / ``DialCallStatus`` values worth a timeline line (not ``queued`` etc.).
TRACKED = frozenset(
    {"ringing", "in-progress", "answered", "completed", "busy", "no-answer", "failed", "canceled"}
)
MAX_REF = 2**62
#: The call's reference: the id of its ``call_bridge`` timeline entry.
Ref = Annotated[int, Path(ge=1, le=MAX_REF)]


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def _bridge_entry(ctx: Context, ref: int) -> IncidentEvent | None:
    async with ctx.db() as session:
        entry = await session.get(IncidentEvent, ref)
    return entry if entry is not None and entry.kind == BRIDGE_KIND else None


async def _record(
    ctx: Context, entry: IncidentEvent, *, leg: str, raw: str, form_sid: str, extra: dict[str, str]
) -> None:
    async with transaction(ctx.db) as session:
        await log_incident_event(
            session,
            entry.incident_id,
            at=ctx.clock.now(),
            actor="twilio",
            kind=STATUS_KIND,
            note=raw,
            data={"ref": entry.id, "leg": leg, "status": raw, "call_sid": form_sid, **extra},
        )


@router.post("/{ref}/twiml")
async def bridge_script(ref: Ref, request: Request, form: SignedForm) -> Response:
    """The desk phone answered: tell the operator who is being called, then dial the resident."""
    ctx = _ctx(request)
    entry = await _bridge_entry(ctx, ref)
    response = VoiceResponse()
    if entry is None:
        response.say("此通话已失效。This call is no longer valid.", language="zh-CN")
        return Response(content=str(response), media_type=TWIML)
    lang = "zh-CN" if is_chinese(str(entry.data.get("language", "zh-CN"))) else "en-US"
    name = str(entry.data.get("to_name", ""))
    text = f"正在为您接通{name}，请稍候。" if lang == "zh-CN" else f"Connecting you to {name}. Please hold."
    response.say(text, language=lang, voice="alice")
    settings = twilio_settings(ctx.settings)
    public = (settings.public_url or "").rstrip("/")
    dial = response.dial(
        caller_id=settings.from_number,
        action=f"{public}/twilio/bridge/{ref}/dialed",
        method="POST",
        timeout=30,
    )
    dial.number(str(entry.data.get("to_phone", "")))
    await _record(ctx, entry, leg="desk", raw="answered", form_sid=str(form.get("CallSid", "")), extra={})
    return Response(content=str(response), media_type=TWIML)


@router.post("/{ref}/status", status_code=204)
async def bridge_status(ref: Ref, request: Request, form: SignedForm) -> Response:
    """The desk leg's progress (``CallStatus``)."""
    ctx = _ctx(request)
    entry = await _bridge_entry(ctx, ref)
    raw = str(form.get("CallStatus", "")).strip().lower()
    if entry is not None and raw in TRACKED:
        duration = str(form.get("CallDuration", ""))
        extra = {"duration_s": duration} if duration.isdigit() else {}
        await _record(ctx, entry, leg="desk", raw=raw, form_sid=str(form.get("CallSid", "")), extra=extra)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{ref}/dialed")
async def bridge_dialed(ref: Ref, request: Request, form: SignedForm) -> Response:
    """The resident's leg ended (``DialCallStatus``): answered and how long, or busy, no answer…"""
    ctx = _ctx(request)
    entry = await _bridge_entry(ctx, ref)
    response = VoiceResponse()
    raw = str(form.get("DialCallStatus", "")).strip().lower()
    if entry is not None and raw in TRACKED:
        duration = str(form.get("DialCallDuration", ""))
        extra = {"duration_s": duration} if duration.isdigit() else {}
        await _record(
            ctx, entry, leg="resident", raw=raw, form_sid=str(form.get("DialCallSid", "")), extra=extra
        )
    response.hangup()
    return Response(content=str(response), media_type=TWIML)
