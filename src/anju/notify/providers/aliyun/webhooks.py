"""Aliyun receipts: delivery and call reports, keys pressed during a call, SMS replies (SmsUp).

Mounted without the /api/v1 prefix at ``/aliyun/{token}/{SmsReport|SmsUp|VoiceReport|VoiceCallReport}``.
Aliyun's HTTP batch push carries no signature, so the URL registered in its consoles holds a
secret (``ANJU_ALIYUN_RECEIPT_TOKEN``), compared in constant time; without it (or with a wrong
one) every push gets 403 and changes nothing. Serve these URLs over HTTPS only.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.api.responses import problems
from anju.context import Context
from anju.dispatch.checkins import answered_by_phone, checkin_of_row
from anju.dispatch.replies import act, match_sender, record_other_reply, record_unknown_sender
from anju.domain import Channel, NotificationStatus
from anju.notify.checkin_script import read_answer
from anju.notify.outbox import policy_for
from anju.notify.phone import mask_phone, normalize_phone
from anju.notify.providers.aliyun import receipts
from anju.notify.providers.aliyun.client import AliyunProvider
from anju.notify.providers.aliyun.settings import AliyunSettings
from anju.notify.replies import Decision, parse_reply
from anju.notify.tracking import apply_report, fall_back, lock_notification
from anju.store.db import transaction
from anju.store.models import IncidentEvent, Notification
from anju.web.deps import CtxDep

log = logging.getLogger("anju.notify.webhooks")
router = APIRouter(prefix="/aliyun", tags=["aliyun receipts"], responses=problems(400, 403, 422))
#: What Aliyun expects back for a batch it may consider received.
RECEIVED = {"code": 0, "msg": "接收成功"}
#: Keys of the interactive call: 1 accepts (or "I am well"), 2 passes it on, 9 asks for help.
KEYS = {"1": Decision.ACCEPT, "2": Decision.DECLINE}
HELP_KEY = "9"
#: Aliyun pushes at most a few hundred receipts at once; anything far larger is not a receipt push.
MAX_PUSH_BYTES = 1 << 20


def _checked(ctx: Context, token: str) -> None:
    expected = AliyunSettings.from_settings(ctx.settings).receipt_token
    if expected is None or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        log.warning("refused Aliyun receipt push: unknown token")
        ctx.metrics.notifications.labels(channel="webhook", status="bad_token").inc()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "unknown receipt URL")


async def _batch(request: Request, ctx: Context, token: str) -> list[dict[str, Any]]:
    _checked(ctx, token)
    body = await request.body()
    if len(body) > MAX_PUSH_BYTES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"a receipt push is at most {MAX_PUSH_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as err:  # a nesting bomb is a RecursionError, not a ValueError
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "a receipt push is a JSON array") from err
    return receipts.items(payload)


async def _report(ctx: Context, receipt: receipts.Receipt, channel: Channel) -> None:
    if receipt.status is None:
        return
    async with transaction(ctx.db) as session:
        await apply_report(
            ctx,
            session,
            provider=AliyunProvider.name,
            notification_id=receipt.notification_id,
            channel=channel,
            status=receipt.status,
            provider_id=receipt.provider_id,
            error=receipt.error,
            now=ctx.clock.now(),
            policy=policy_for(ctx),
        )


@router.post("/{token}/SmsReport")
async def sms_report(token: str, request: Request, ctx: CtxDep) -> dict[str, object]:
    """Delivery reports of SMS sent through Aliyun."""
    for item in await _batch(request, ctx, token):
        receipt = receipts.sms_report(item)
        if receipt is None:
            log.info("SmsReport item without an outbox reference skipped")
            continue
        await _report(ctx, receipt, Channel.SMS)
    return RECEIVED


@router.post("/{token}/VoiceReport")
async def voice_report(token: str, request: Request, ctx: CtxDep) -> dict[str, object]:
    """The end of each call (heard or not), with the keys pressed if any."""
    for item in await _batch(request, ctx, token):
        receipt = receipts.voice_report(item)
        if receipt is None:
            log.info("VoiceReport item without an outbox reference skipped")
            continue
        if receipt.dtmf:
            await _keys(ctx, receipt)
        await _report(ctx, receipt, Channel.VOICE)
    return RECEIVED


@router.post("/{token}/VoiceCallReport")
async def voice_call_report(token: str, request: Request, ctx: CtxDep) -> dict[str, object]:
    """A call's progress; the event with ``dtmf`` carries the key the person pressed."""
    for item in await _batch(request, ctx, token):
        receipt = receipts.voice_call_report(item)
        if receipt is not None and receipt.dtmf:
            await _keys(ctx, receipt)
    return RECEIVED


async def _keys(ctx: Context, receipt: receipts.Receipt) -> None:
    """The first key that means something: 1 accept / well, 2 next contact, 9 help."""
    key = next((k for k in receipt.dtmf if k in KEYS or k == HELP_KEY), None)
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        row = await session.get(Notification, receipt.notification_id)
        if row is None or row.channel != Channel.VOICE.value:
            log.warning("keys for unknown call %s ignored", receipt.notification_id)
            return
        if await checkin_of_row(session, row) is not None:
            await _checkin_keys(ctx, session, row, receipt.dtmf, now=now)
            return
        if key is None:
            log.info("call %s: keys %r mean nothing to us", row.id, receipt.dtmf[:8])
            return
        if key == HELP_KEY:
            await _help(ctx, session, row, now=now)
            return
        action = await act(ctx, session, row, KEYS[key], via="keypad", raw=key, now=now)
    log.info("key %s on call %s: %s", key, receipt.notification_id, action.outcome)


async def _checkin_keys(
    ctx: Context, session: AsyncSession, row: Notification, dtmf: str, *, now: Any
) -> None:
    """A check-in call's keys (1 = well, 9 = help), given to the check-in as Twilio's keypad answers are."""
    if row.status == NotificationStatus.ANSWERED.value:
        # VoiceCallReport carries the key, and VoiceReport again at the call's end: one answer per call.
        log.info("check-in call %s: keys already taken", row.id)
        return
    answer, key = next(((a, k) for k in dtmf if (a := read_answer(k)) is not None), (None, ""))
    if answer is None:
        log.info("check-in call %s: keys %r mean nothing to us", row.id, dtmf[:8])
        return
    await answered_by_phone(session, row, answer, via="keypad", raw=key, now=now, bus=ctx.bus)
    log.info("key %s on check-in call %s: %s", key, row.id, answer.value)


async def _help(ctx: Context, session: AsyncSession, row: Notification, *, now: Any) -> None:
    """9: the person on the phone needs help; the incident stays open and the next contact is paged."""
    locked = await lock_notification(session, row.id, now)
    assert locked is not None
    locked.next_attempt_at = None
    actor = f"phone:{mask_phone(locked.to_address)}"
    data = {"notification_id": row.id, "via": "keypad", "reply": HELP_KEY, "decision": "help"}
    if locked.incident_id is not None:
        session.add(
            IncidentEvent(
                incident_id=locked.incident_id,
                at=now,
                actor=actor,
                kind="phone_help",
                note=f"{locked.recipient_name or actor} pressed 9: asks for help",
                data=data,
            )
        )
    await audit.record(
        session,
        at=now,
        actor=actor,
        action="notification.help",
        entity="notification",
        entity_id=row.id,
        content={**data, "incident_id": locked.incident_id},
    )
    reason = f"{locked.recipient_name or actor} asked for help"
    await fall_back(ctx, session, locked, now=now, reason=reason, declined=True)


@router.post("/{token}/SmsUp")
async def sms_up(token: str, request: Request, ctx: CtxDep) -> dict[str, object]:
    """SMS sent back to us: answers to alerts (1 / 收到 / 2 …), or from someone we never paged."""
    for item in await _batch(request, ctx, token):
        upstream = receipts.sms_up(item)
        if upstream is None:
            continue
        sender = normalize_phone(upstream.phone)
        now = ctx.clock.now()
        async with transaction(ctx.db) as session:
            row = await match_sender(session, sender, now=now)
            if row is None:
                await record_unknown_sender(session, sender, upstream.content, now=now)
                continue
            checkin = await checkin_of_row(session, row) is not None
            answer = read_answer(upstream.content) if checkin else None
            if answer is not None:
                raw = upstream.content
                await answered_by_phone(session, row, answer, via="sms", raw=raw, now=now, bus=ctx.bus)
                log.info("check-in reply from %s via Aliyun: %s", mask_phone(sender), answer.value)
                continue
            decision = parse_reply(upstream.content)
            if decision is None:
                action = await record_other_reply(session, row, upstream.content, now=now)
            else:
                action = await act(ctx, session, row, decision, via="sms", raw=upstream.content, now=now)
        # No answer goes back: a mainland SMS needs an approved template, and the reply is on record.
        log.info("SMS reply from %s via Aliyun: %s", mask_phone(sender), action.outcome)
    return RECEIVED
