"""Closing the loop from a phone: what an accept or decline read by notify does to the incident.

1 / 收到 / OK accepts: an open incident is acknowledged (a contact who accepts also becomes its
responder, so it is dispatched to them); a visit request is dispatched to whoever accepts it.
2 declines: the next contact is paged. Replies from numbers we never paged change nothing, and
are logged and audited. Every action writes the incident timeline and the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.context import Context
from anju.dispatch.service import Responder, transition
from anju.domain import ACTIVE_STATES, Channel, IncidentState, NotificationStatus
from anju.errors import InvalidTransition
from anju.notify.phone import mask_phone, normalize_phone
from anju.notify.replies import Decision
from anju.notify.templates import language_of, reply_text
from anju.notify.tracking import fall_back, lock_notification
from anju.store.models import Incident, Notification, User

#: Logged under notify's name, as before the handling moved here: operators filter on it.
log = logging.getLogger("anju.notify")

#: How far back an SMS reply is matched to what we sent that number.
REPLY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class PhoneAction:
    """What happened, and the words to say or send back to the person."""

    outcome: str
    reply: str
    incident_id: int | None


async def _actor(session: AsyncSession, row: Notification) -> str:
    if row.user_id is not None:
        user = await session.get(User, row.user_id)
        if user is not None:
            return user.username
    if row.contact_id is not None:
        return f"contact:{row.contact_id}:{row.recipient_name}"[:128]
    return f"phone:{mask_phone(row.to_address)}"


async def act(
    ctx: Context,
    session: AsyncSession,
    row: Notification,
    decision: Decision,
    *,
    via: str,
    raw: str,
    now: datetime,
) -> PhoneAction:
    """Apply an accept or decline that came in answer to ``row``."""
    lang = language_of(row.language)
    locked = await lock_notification(session, row.id, now)
    assert locked is not None
    actor = await _actor(session, locked)
    if decision is Decision.ACCEPT and locked.channel == Channel.VOICE.value:
        locked.status = NotificationStatus.ANSWERED.value
    # Answered either way: this row no longer waits for a report or falls back on a timeout.
    locked.next_attempt_at = None
    incident = await session.get(Incident, row.incident_id) if row.incident_id is not None else None
    data = {"notification_id": row.id, "via": via, "reply": raw[:160], "decision": decision.value}
    action = f"notification.{decision.value}"
    if incident is None:
        await _audit(session, now, actor, action, row, data)
        return PhoneAction("no_incident", reply_text("closed", lang), None)
    note = f"{row.recipient_name or actor} pressed/replied {raw[:40]!r} ({via})"
    await _log(session, incident.id, now, actor, f"phone_{decision.value}", note, action, row, data)
    if decision is Decision.DECLINE:
        if IncidentState(incident.state) not in ACTIVE_STATES or incident.state == IncidentState.DISPATCHED:
            return PhoneAction("already", reply_text("already", lang), incident.id)
        await fall_back(
            ctx, session, locked, now=now, reason=f"{row.recipient_name or actor} declined", declined=True
        )
        return PhoneAction("declined", reply_text("declined", lang), incident.id)
    return await _accept(ctx, session, incident, locked, actor=actor, via=via, now=now)


async def _accept(
    ctx: Context,
    session: AsyncSession,
    incident: Incident,
    row: Notification,
    *,
    actor: str,
    via: str,
    now: datetime,
) -> PhoneAction:
    lang = language_of(row.language)
    state = IncidentState(incident.state)
    note = f"accepted by phone ({via})"
    user = await session.get(User, row.user_id) if row.user_id is not None else None
    try:
        if state is IncidentState.OPEN:
            # The first to acknowledge owns it (a user); dispatch's transition records that.
            incident = await transition(
                session,
                incident.id,
                to=IncidentState.ACKNOWLEDGED,
                actor=actor,
                now=now,
                note=note,
                user=user,
                bus=ctx.bus,
            )
            state = IncidentState.ACKNOWLEDGED
            if row.contact_id is None:
                return PhoneAction("acknowledged", reply_text("acknowledged", lang), incident.id)
        if state is IncidentState.ACKNOWLEDGED and row.contact_id is not None:
            incident = await transition(
                session,
                incident.id,
                to=IncidentState.DISPATCHED,
                actor=actor,
                now=now,
                note=f"{note}: {row.recipient_name} will visit",
                responder=Responder(contact_id=row.contact_id),
                bus=ctx.bus,
            )
            return PhoneAction("dispatched", reply_text("dispatched", lang), incident.id)
    except InvalidTransition:
        pass  # someone else moved it first; tell the caller it is in hand
    if state in (IncidentState.RESOLVED, IncidentState.FOLLOW_UP, IncidentState.CLOSED):
        return PhoneAction("closed", reply_text("closed", lang), incident.id)
    return PhoneAction("already", reply_text("already", lang), incident.id)


async def _log(
    session: AsyncSession,
    incident_id: int,
    now: datetime,
    actor: str,
    kind: str,
    note: str,
    action: str,
    row: Notification,
    data: dict[str, object],
) -> None:
    """The reply on the incident's timeline, and its audit record about the notification."""
    await audit.log_incident_event(
        session,
        incident_id,
        at=now,
        actor=actor,
        kind=kind,
        note=note,
        data=data,
        action=action,
        entity="notification",
        entity_id=row.id,
        content={**data, "incident_id": row.incident_id},
    )


async def _audit(
    session: AsyncSession, now: datetime, actor: str, action: str, row: Notification, data: dict[str, object]
) -> None:
    await audit.record(
        session,
        at=now,
        actor=actor,
        action=action,
        entity="notification",
        entity_id=row.id,
        content={**data, "incident_id": row.incident_id},
    )


async def match_sender(session: AsyncSession, phone: str, *, now: datetime) -> Notification | None:
    """The latest SMS or call we sent to ``phone`` within the reply window."""
    number = normalize_phone(phone)
    return await session.scalar(
        select(Notification)
        .where(
            Notification.to_address == number,
            Notification.channel.in_([Channel.SMS.value, Channel.VOICE.value]),
            Notification.status.not_in([NotificationStatus.PENDING.value, NotificationStatus.NOT_SENT.value]),
            Notification.created_at >= now - REPLY_WINDOW,
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )


async def record_unknown_sender(session: AsyncSession, phone: str, body: str, *, now: datetime) -> None:
    """A reply from a number we never paged: nothing changes, but it is on the record."""
    log.warning("SMS from unknown number %s ignored: %r", mask_phone(phone), body[:80])
    await audit.record(
        session,
        at=now,
        actor=f"phone:{mask_phone(normalize_phone(phone))}",
        action="sms.reply_unmatched",
        entity="phone",
        entity_id=mask_phone(normalize_phone(phone)),
        content={
            "from": normalize_phone(phone),
            "body": body[:160],
            "outcome": "ignored: number not paged in the last 24 h",
        },
    )


async def record_other_reply(
    session: AsyncSession, row: Notification, body: str, *, now: datetime
) -> PhoneAction:
    """A reply that is neither yes nor no may still matter ("I am abroad, call my brother")."""
    actor = await _actor(session, row)
    lang = language_of(row.language)
    data = {"notification_id": row.id, "via": "sms", "reply": body[:500]}
    if row.incident_id is not None:
        note = f"{row.recipient_name or actor} replied: {body[:200]}"
        await _log(session, row.incident_id, now, actor, "phone_reply", note, "notification.reply", row, data)
    else:
        await _audit(session, now, actor, "notification.reply", row, data)
    return PhoneAction("unrecognised", reply_text("help", lang), row.incident_id)
