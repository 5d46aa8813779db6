"""Delivery tracking: provider reports move each row forward; failures fall back.

A failed SMS becomes a voice call to the same person; a failed or declined call goes to the next
contact of the household, in priority order. Each outbox row falls back at most once (the new
row's ``step`` is ``fallback:<id>``), whichever of a callback, a timeout or a reply gets there
first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.context import Context
from anju.domain import Channel, IncidentState, NotificationStatus
from anju.notify.checkin_script import checkin_of_row
from anju.notify.policy import DEFAULT_POLICY, DeliveryPolicy
from anju.store.db import after_commit
from anju.store.models import Contact, Incident, Notification
from anju.store.safe import storable

log = logging.getLogger("anju.notify")
SYSTEM = "system"

_S = NotificationStatus
#: Statuses only move forward: a late ``sent`` never overwrites ``delivered``.
RANK: dict[str, int] = {
    _S.PENDING: 0,
    _S.SENDING: 1,
    _S.QUEUED: 2,
    _S.SENT: 3,
    _S.ANSWERED: 4,
    _S.DELIVERED: 4,
    _S.UNDELIVERED: 4,
    _S.FAILED: 4,
    _S.NO_ANSWER: 4,
    _S.BUSY: 4,
    _S.NOT_SENT: 4,
}
FAILURES = frozenset({_S.UNDELIVERED, _S.FAILED, _S.NO_ANSWER, _S.BUSY})
REACHED = frozenset({_S.DELIVERED, _S.ANSWERED})
#: Rows waiting for a provider report; their ``next_attempt_at`` is the report deadline.
AWAITING_REPORT = (_S.QUEUED.value, _S.SENT.value)


def fallback_step(row_id: int) -> str:
    return f"fallback:{row_id}"


def count(ctx: Context, channel: str, status: str) -> None:
    ctx.metrics.notifications.labels(channel=channel, status=status).inc()


def announce(ctx: Context, row: Notification) -> None:
    """A live update for the console, which also wakes the outbox worker (call after commit)."""
    ctx.bus.publish(
        {
            "type": "notification",
            "id": row.id,
            "incident_id": row.incident_id,
            "channel": row.channel,
            "status": row.status,
        }
    )


def announce_after_commit(ctx: Context, session: AsyncSession, row: Notification) -> None:
    message = {
        "type": "notification",
        "id": row.id,
        "incident_id": row.incident_id,
        "channel": row.channel,
        "status": row.status,
    }
    after_commit(session, lambda: ctx.bus.publish(message))


async def lock_notification(
    session: AsyncSession, row_id: int, now: datetime, *, chain: bool = True
) -> Notification | None:
    """The row, locked: a write comes first so SQLite takes its writer lock before we read.

    With ``chain`` (any transaction that may append to the audit trail) the audit chain lock is
    taken first, the same order dispatch uses (chain, then rows), so writers queue, never deadlock.
    """
    if chain:
        await audit.lock_chain(session)
    result = await session.execute(
        update(Notification).where(Notification.id == row_id).values(updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(Notification, row_id, populate_existing=True)


def needs_answer(incident: Incident, row: Notification) -> bool:
    """Whether a failed delivery of ``row`` still leaves someone who must be reached."""
    if incident.state == IncidentState.OPEN.value:
        return True
    if incident.state == IncidentState.ACKNOWLEDGED.value and incident.acknowledged_at is not None:
        # Paged after the center acknowledged: a request to visit, which still needs a taker.
        return row.created_at >= incident.acknowledged_at
    return False


async def next_contact(session: AsyncSession, incident: Incident, after: Notification) -> Contact | None:
    """The household's next contact by priority after the one ``after`` was for."""
    contacts = list(
        await session.scalars(
            select(Contact)
            .where(Contact.household_id == incident.household_id)
            .order_by(Contact.priority, Contact.id)
        )
    )
    if after.contact_id is not None:
        ids = [c.id for c in contacts]
        if after.contact_id in ids:
            rest = contacts[ids.index(after.contact_id) + 1 :]
            return rest[0] if rest else None
    # The failed row was for a user (duty phone): start with contacts not yet paged for this incident.
    paged = set(
        await session.scalars(
            select(Notification.contact_id).where(
                Notification.incident_id == incident.id, Notification.contact_id.is_not(None)
            )
        )
    )
    for contact in contacts:
        if contact.id not in paged:
            return contact
    return None


@dataclass(frozen=True)
class FallbackResult:
    created: Notification | None
    note: str


def _no_fallback(
    session: AsyncSession, incident: Incident, row: Notification, note: str, now: datetime
) -> FallbackResult:
    """The failure on the incident's timeline, and nothing sent: a timeline entry without an audit
    record of its own, as nothing is sent or changed here."""
    session.add(
        audit.timeline_entry(
            incident.id,
            at=now,
            actor=SYSTEM,
            kind="notification_failed",
            note=note,
            data={"notification_id": row.id},
        )
    )
    return FallbackResult(None, note)


async def fall_back(
    ctx: Context,
    session: AsyncSession,
    row: Notification,
    *,
    now: datetime,
    reason: str,
    declined: bool = False,
) -> FallbackResult:
    """Reach someone else (or the same person another way) after ``row`` failed or was declined."""
    if await checkin_of_row(session, row) is not None:  # its failover copies too
        return FallbackResult(None, "a check-in calls again on its own schedule")
    step = fallback_step(row.id)
    if await session.scalar(select(Notification.id).where(Notification.step == step)) is not None:
        return FallbackResult(None, "fallback already done")
    incident = await session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is not None and not needs_answer(incident, row):
        return _no_fallback(
            session, incident, row, f"{reason}; no fallback: incident is {incident.state}", now
        )
    channel = Channel(row.channel)
    if channel in (Channel.GROUP, Channel.DINGTALK) and incident is not None:
        # A group post adds eyes; reaching people stays with the escalation's own phone steps.
        note = f"{reason}; the group chat post failed, the escalation goes on"
        return _no_fallback(session, incident, row, note, now)
    new: Notification | None = None
    if channel is Channel.SMS and not declined:
        new = _copy_for(row, now=now, step=step, channel=Channel.VOICE)
    elif channel in (Channel.SMS, Channel.VOICE) and incident is not None:
        contact = await next_contact(session, incident, row)
        if contact is not None:
            new = Notification(
                incident_id=incident.id,
                channel=Channel.VOICE.value,
                recipient_name=contact.name,
                recipient_kind=contact.relation,
                contact_id=contact.id,
                to_address=contact.phone,
                language=contact.language,
                body="",
                status=_S.PENDING.value,
                attempts=0,
                step=step,
                created_at=now,
                updated_at=now,
            )
    if new is None:
        note = f"{reason}; nobody left to try: the center must call"
        if incident is not None:
            await audit.log_incident_event(
                session,
                incident.id,
                at=now,
                actor=SYSTEM,
                kind="notification_exhausted",
                note=note,
                data={"notification_id": row.id},
                action="notification.exhausted",
                entity="notification",
                entity_id=row.id,
                content={"incident_id": incident.id, "reason": reason},
            )
        log.warning("notification %s: %s", row.id, note)
        return FallbackResult(None, note)
    session.add(new)
    await session.flush()
    announce_after_commit(ctx, session, new)
    what = (
        "voice call to the same person"
        if new.contact_id == row.contact_id and not declined
        else "next contact"
    )
    note = f"{reason}; fallback: {what} ({new.recipient_name or 'unnamed'})"
    data = {"from_notification": row.id, "notification_id": new.id, "channel": new.channel, "reason": reason}
    content = {**data, "incident_id": row.incident_id, "recipient": new.recipient_name}
    if incident is not None:
        await audit.log_incident_event(
            session,
            incident.id,
            at=now,
            actor=SYSTEM,
            kind="notification_fallback",
            note=note,
            data=data,
            action="notification.fallback",
            entity="notification",
            entity_id=new.id,
            content=content,
        )
    else:  # a row that belongs to no incident has no timeline
        await audit.record(
            session,
            at=now,
            actor=SYSTEM,
            action="notification.fallback",
            entity="notification",
            entity_id=new.id,
            content=content,
        )
    count(ctx, new.channel, _S.PENDING.value)
    return FallbackResult(new, note)


def _copy_for(row: Notification, *, now: datetime, step: str, channel: Channel) -> Notification:
    return Notification(
        incident_id=row.incident_id,
        channel=channel.value,
        recipient_name=row.recipient_name,
        recipient_kind=row.recipient_kind,
        contact_id=row.contact_id,
        user_id=row.user_id,
        to_address=row.to_address,
        language=row.language,
        body="",
        status=_S.PENDING.value,
        attempts=0,
        step=step,
        created_at=now,
        updated_at=now,
    )


async def apply_report(
    ctx: Context,
    session: AsyncSession,
    *,
    notification_id: int,
    channel: Channel,
    status: NotificationStatus,
    provider_id: str | None,
    error: str | None,
    now: datetime,
    provider: str,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> Notification | None:
    """Record ``provider``'s report on one row; a failure starts the fallback."""
    # The provider's words come from an HTTP push: stored escaped and bounded, like any outside text.
    error = storable(error, limit=200) if error else None
    provider_id = storable(provider_id, limit=64) if provider_id else None
    row = await lock_notification(session, notification_id, now)
    if row is None or row.channel != channel.value:
        log.warning("report for unknown %s notification %s ignored", channel, notification_id)
        return None
    was_unsent = row.status in (_S.PENDING, _S.SENDING)
    if provider_id and (row.provider_id is None or was_unsent):
        # The report can beat the worker's own record of the send, or follow a restart.
        row.provider_id = provider_id
        row.provider = row.provider or provider
    if RANK[row.status] >= RANK[status]:
        return row
    previous = row.status
    row.status = status.value
    count(ctx, row.channel, status.value)
    await audit.record(
        session,
        at=now,
        actor=row.provider or SYSTEM,
        action="notification.status",
        entity="notification",
        entity_id=row.id,
        content={
            "incident_id": row.incident_id,
            "channel": row.channel,
            "from": previous,
            "to": status.value,
            "provider_id": row.provider_id,
            "error": error,
        },
    )
    if status.value in AWAITING_REPORT and was_unsent:
        # Now waiting for the final report (a pending retry time is no deadline).
        row.next_attempt_at = now + policy.report_timeout(channel)
    if status in REACHED:
        row.next_attempt_at = None
    elif status in FAILURES:
        row.next_attempt_at = None
        row.last_error = f"{status.value}" + (f" (provider error {error})" if error else "")
        from anju.notify.failover import fail_over_or_fall_back  # failover imports this module

        await fail_over_or_fall_back(ctx, session, row, now=now, reason=f"{row.channel} {status.value}")
    await session.flush()
    announce_after_commit(ctx, session, row)
    return row


async def expire_overdue(ctx: Context, session: AsyncSession, row_id: int, *, now: datetime) -> bool:
    """A row that got no final report by its deadline falls back as if it had failed."""
    row = await lock_notification(session, row_id, now)
    if row is None or row.status not in AWAITING_REPORT or row.next_attempt_at is None:
        return False
    if row.next_attempt_at > now:
        return False
    row.next_attempt_at = None
    row.last_error = f"no delivery report by the deadline (last status {row.status})"
    count(ctx, row.channel, "report_timeout")
    from anju.notify.failover import fail_over_or_fall_back  # failover imports this module

    await fail_over_or_fall_back(ctx, session, row, now=now, reason=f"{row.channel} not confirmed in time")
    await session.flush()
    announce_after_commit(ctx, session, row)
    return True
