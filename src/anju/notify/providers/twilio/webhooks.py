"""Twilio webhooks: delivery reports, the voice script and its key press, SMS replies.

Mounted without the /api/v1 prefix. Every request must carry a valid ``X-Twilio-Signature``
computed over ``ANJU_PUBLIC_URL`` + path + query and all form fields received; anything else gets
403 and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from anju.api.responses import problems
from anju.config import Settings
from anju.dispatch.checkins import answered_by_phone, checkin_of_row
from anju.dispatch.replies import act, match_sender, record_other_reply, record_unknown_sender
from anju.domain import ACTIVE_STATES, Channel, IncidentState, NotificationStatus
from anju.notify.checkin_script import no_input_words, read_answer, reply_words
from anju.notify.content import alert_facts, is_visit_request
from anju.notify.outbox import policy_for
from anju.notify.phone import mask_phone
from anju.notify.providers.twilio.client import TwilioProvider, map_status, signature_url
from anju.notify.providers.twilio.settings import TwilioSettings
from anju.notify.replies import parse_reply
from anju.notify.templates import Lang, language_of, reply_text, voice_text
from anju.notify.tracking import apply_report
from anju.store.db import transaction
from anju.store.models import Incident, Notification
from anju.web.deps import BigIdPath, CtxDep

log = logging.getLogger("anju.notify.webhooks")
router = APIRouter(prefix="/twilio", tags=["twilio webhooks"], responses=problems(400, 403, 422))
TWIML = "application/xml"


_SETTINGS: dict[int, tuple[Settings, TwilioSettings]] = {}


def twilio_settings(settings: Settings) -> TwilioSettings:
    """Twilio's slice of the service's settings, read once per settings object."""
    cached = _SETTINGS.get(id(settings))
    if cached is None or cached[0] is not settings:
        if len(_SETTINGS) > 16:  # tests build many settings; a service has one
            _SETTINGS.clear()
        cached = _SETTINGS[id(settings)] = (settings, TwilioSettings.from_settings(settings))
    return cached[1]


async def signed_form(request: Request, ctx: CtxDep) -> FormData:
    """The request's form, once its Twilio signature has been checked against the public URL."""
    settings = twilio_settings(ctx.settings)
    token = settings.auth_token
    if token is None or not settings.public_url:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Twilio webhooks are not configured on this server")
    form = await request.form()
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    url = signature_url(settings.public_url, request.url.path, request.url.query)
    validator = RequestValidator(token.get_secret_value())
    if not signature or not validator.validate(url, form, signature, algorithm):
        log.warning("refused Twilio webhook %s: missing or invalid signature", request.url.path)
        ctx.metrics.notifications.labels(channel="webhook", status="bad_signature").inc()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid or missing X-Twilio-Signature")
    return form


SignedForm = Annotated[FormData, Depends(signed_form)]


def _row_ref(request: Request) -> int:
    try:
        return int(request.query_params["n"])
    except (KeyError, ValueError) as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "status callback without a notification id") from err


async def _report(request: Request, ctx: CtxDep, form: FormData, channel: Channel) -> Response:
    row_id = _row_ref(request)
    sid_field, status_field = (
        ("CallSid", "CallStatus") if channel is Channel.VOICE else ("MessageSid", "MessageStatus")
    )
    raw = str(form.get(status_field, ""))
    mapped = map_status(channel, raw)
    if mapped is None:
        log.info("notification %s: untracked %s status %r", row_id, channel, raw)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    error = form.get("ErrorCode") or form.get("SipResponseCode")
    async with transaction(ctx.db) as session:
        await apply_report(
            ctx,
            session,
            provider=TwilioProvider.name,
            notification_id=row_id,
            channel=channel,
            status=mapped,
            provider_id=str(form.get(sid_field, "")) or None,
            error=str(error) if error else None,
            now=ctx.clock.now(),
            policy=policy_for(ctx),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sms/status", status_code=204)
async def sms_status(request: Request, ctx: CtxDep, form: SignedForm) -> Response:
    """Twilio's delivery report for one SMS (``MessageStatus``)."""
    return await _report(request, ctx, form, Channel.SMS)


@router.post("/voice/status", status_code=204)
async def voice_status(request: Request, ctx: CtxDep, form: SignedForm) -> Response:
    """Twilio's progress report for one call (``CallStatus``)."""
    return await _report(request, ctx, form, Channel.VOICE)


def _say(response: VoiceResponse, text: str, lang: Lang) -> None:
    response.say(text, language=lang.value, voice="alice")


def _twiml(response: VoiceResponse | MessagingResponse) -> Response:
    return Response(content=str(response), media_type=TWIML)


@router.post("/voice/{notification_id}/twiml")
async def voice_script(notification_id: BigIdPath, ctx: CtxDep, form: SignedForm) -> Response:
    """The call's script: the alert in the contact's language, then one key (1 accept, 2 decline)."""
    response = VoiceResponse()
    async with transaction(ctx.db) as session:
        # Twilio fetches the script when the call is answered: that is our "answered" report.
        await apply_report(
            ctx,
            session,
            provider=TwilioProvider.name,
            notification_id=notification_id,
            channel=Channel.VOICE,
            status=NotificationStatus.ANSWERED,
            provider_id=str(form.get("CallSid", "")) or None,
            error=None,
            now=ctx.clock.now(),
        )
    async with ctx.db() as session:
        row = await session.get(Notification, notification_id)
        if row is not None and await checkin_of_row(session, row) is not None:
            return _checkin_script(ctx, row)
        incident = await session.get(Incident, row.incident_id) if row and row.incident_id else None
        lang = language_of(row.language if row else None)
        if row is None or incident is None:
            _say(response, row.body if row and row.body else reply_text("closed", lang), lang)
            return _twiml(response)
        if IncidentState(incident.state) not in ACTIVE_STATES or incident.state == IncidentState.DISPATCHED:
            _say(response, reply_text("already", lang), lang)
            return _twiml(response)
        facts = await alert_facts(
            session, incident, default_tz=ctx.settings.timezone, visit_request=is_visit_request(incident, row)
        )
    public = (ctx.settings.public_url or "").rstrip("/")
    gather = response.gather(
        num_digits=1,
        action=f"{public}/twilio/voice/{notification_id}/gather",
        method="POST",
        timeout=8,
    )
    # Said twice: the first words of a call are often lost while the phone reaches the ear.
    gather.say(voice_text(facts, lang), language=lang.value, voice="alice", loop=2)
    _say(response, reply_text("no_input", lang), lang)
    return _twiml(response)


@router.post("/voice/{notification_id}/gather")
async def voice_key(notification_id: BigIdPath, ctx: CtxDep, form: SignedForm) -> Response:
    """The key pressed during the call (or, on a check-in, the word said)."""
    digits = str(form.get("Digits", "")).strip()
    checkin_reply = await _checkin_key(ctx, notification_id, form)
    if checkin_reply is not None:
        return checkin_reply
    response = VoiceResponse()
    decision = parse_reply(digits) if digits in ("1", "2") else None
    async with transaction(ctx.db) as session:
        row = await session.get(Notification, notification_id)
        lang = language_of(row.language if row else None)
        if row is None:
            _say(response, reply_text("closed", lang), lang)
            return _twiml(response)
        if decision is None:
            public = (ctx.settings.public_url or "").rstrip("/")
            _say(response, reply_text("help", lang).replace("回复", "按").replace("Reply", "Press"), lang)
            response.redirect(f"{public}/twilio/voice/{notification_id}/twiml", method="POST")
            return _twiml(response)
        action = await act(ctx, session, row, decision, via="keypad", raw=digits, now=ctx.clock.now())
    _say(response, action.reply, lang)
    return _twiml(response)


@router.post("/sms/inbound")
async def sms_inbound(ctx: CtxDep, form: SignedForm) -> Response:
    """An SMS sent to our number: a reply to an alert, or from someone we never paged."""
    sender = str(form.get("From", ""))
    body = str(form.get("Body", ""))
    response = MessagingResponse()
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        row = await match_sender(session, sender, now=now)
        if row is None:
            await record_unknown_sender(session, sender, body, now=now)
            return _twiml(response)  # nothing to say to a stranger
        answer = read_answer(body) if await checkin_of_row(session, row) is not None else None
        if answer is not None:
            await answered_by_phone(session, row, answer, via="sms", raw=body, now=now, bus=ctx.bus)
            response.message(reply_words(answer, language_of(row.language)))
            return _twiml(response)
        decision = parse_reply(body)
        if decision is None:
            action = await record_other_reply(session, row, body, now=now)
        else:
            action = await act(ctx, session, row, decision, via="sms", raw=body, now=now)
    log.info("SMS reply from %s: %s", mask_phone(sender), action.outcome)
    response.message(action.reply)
    return _twiml(response)


def _checkin_script(ctx: CtxDep, row: Notification) -> Response:
    """A check-in call: the question in the resident's language, a key (1 well, 9 help) or a word."""
    lang = language_of(row.language)
    public = (ctx.settings.public_url or "").rstrip("/")
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        action=f"{public}/twilio/voice/{row.id}/gather",
        method="POST",
        timeout=8,
        speech_timeout="auto",
        language=lang.value,
        hints="平安,救命,一,九" if lang is Lang.ZH else "well,help,one,nine",
    )
    gather.say(row.body, language=lang.value, voice="alice", loop=2)
    _say(response, no_input_words(lang), lang)
    return _twiml(response)


async def _checkin_key(ctx: CtxDep, notification_id: int, form: FormData) -> Response | None:
    """A check-in call's key or spoken answer; None when the row is not a check-in's."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        row = await session.get(Notification, notification_id)
        if row is None or await checkin_of_row(session, row) is None:
            return None
        lang = language_of(row.language)
        heard = str(form.get("Digits", "") or form.get("SpeechResult", "")).strip()
        answer = read_answer(heard)
        response = VoiceResponse()
        if answer is None:
            public = (ctx.settings.public_url or "").rstrip("/")
            _say(response, reply_words(None, lang), lang)
            response.redirect(f"{public}/twilio/voice/{row.id}/twiml", method="POST")
            return _twiml(response)
        via = "keypad" if form.get("Digits") else "speech"
        await answered_by_phone(session, row, answer, via=via, raw=heard, now=now, bus=ctx.bus)
    _say(response, reply_words(answer, lang), lang)
    return _twiml(response)
