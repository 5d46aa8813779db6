"""Provider failover: the same notification once more through the other provider.

When a provider refuses or times out (a :class:`~anju.notify.routing.RoutedFailure` that names
another provider) or reports that it could not deliver, a copy of the row goes out through the
other provider right away, once (its ``step`` is ``failover:<id>``, its ``provider`` pinned); both
attempts stay on the incident's timeline. Only when the failover fails too, or there is no other
provider, does the usual fallback (voice call, next contact) take over.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.context import Context
from anju.domain import Channel, NotificationStatus
from anju.notify.checkin_script import checkin_of_row
from anju.notify.content import ref_marker
from anju.notify.routing import FAILOVER_PREFIX, PhoneRouter
from anju.notify.tracking import SYSTEM, announce_after_commit, count, fall_back, needs_answer
from anju.store.models import Checkin, Incident, IncidentEvent, Notification

log = logging.getLogger("anju.notify")


def failover_step(row_id: int) -> str:
    return f"{FAILOVER_PREFIX}{row_id}"


def _target(ctx: Context, row: Notification, failed_at: str | None) -> str | None:
    """The provider a copy of ``row`` would go through, or None when it cannot fail over."""
    router = ctx.notifier.phone if ctx.notifier is not None else None
    if not isinstance(router, PhoneRouter) or row.channel not in (Channel.SMS.value, Channel.VOICE.value):
        return None
    if (row.step or "").startswith(FAILOVER_PREFIX):
        return None  # a failover is not failed over again
    return router.alternative(failed_at)


async def _checkin_closed(session: AsyncSession, row: Notification) -> bool:
    """Whether ``row`` asks a check-in that is already decided (answered, or its window over)."""
    checkin_id = await checkin_of_row(session, row)
    if checkin_id is None:
        return False
    checkin = await session.get(Checkin, checkin_id)
    return checkin is None or checkin.closed_at is not None


async def fail_over(
    ctx: Context,
    session: AsyncSession,
    row: Notification,
    *,
    now: datetime,
    reason: str,
    failed_at: str | None,
) -> Notification | None:
    """A copy of ``row`` through the other provider; None when there is none or it was done."""
    target = _target(ctx, row, failed_at)
    if target is None or target == failed_at:
        return None
    step = failover_step(row.id)
    if await session.scalar(select(Notification.id).where(Notification.step == step)) is not None:
        return None
    incident = await session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is not None and not needs_answer(incident, row):
        return None
    if await _checkin_closed(session, row):
        return None
    copy = Notification(
        incident_id=row.incident_id,
        channel=row.channel,
        recipient_name=row.recipient_name,
        recipient_kind=row.recipient_kind,
        contact_id=row.contact_id,
        user_id=row.user_id,
        to_address=row.to_address,
        language=row.language,
        # The very text of the first attempt, without its reference (the copy gets its own).
        body=row.body.removesuffix(ref_marker(row.id)).rstrip(),
        status=NotificationStatus.PENDING.value,
        provider=target,
        attempts=0,
        step=step,
        created_at=now,
        updated_at=now,
    )
    session.add(copy)
    await session.flush()
    announce_after_commit(ctx, session, copy)
    note = f"{reason}; failover: the same {row.channel} through {target}"
    data = {
        "from_notification": row.id,
        "notification_id": copy.id,
        "channel": row.channel,
        "from_provider": failed_at,
        "to_provider": target,
        "reason": reason,
    }
    if incident is not None:
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                at=now,
                actor=SYSTEM,
                kind="notification_failover",
                note=note,
                data=data,
            )
        )
    await audit.record(
        session,
        at=now,
        actor=SYSTEM,
        action="notification.failover",
        entity="notification",
        entity_id=copy.id,
        content={**data, "incident_id": row.incident_id},
    )
    count(ctx, row.channel, "failover")
    ctx.metrics.notify_failovers.labels(
        from_provider=failed_at or "unknown", to_provider=target, channel=row.channel
    ).inc()
    log.warning("notification %s: %s", row.id, note)
    return copy


async def fail_over_or_fall_back(
    ctx: Context,
    session: AsyncSession,
    row: Notification,
    *,
    now: datetime,
    reason: str,
    failed_at: str | None = None,
) -> None:
    """The other provider if there is one for this row, else the usual fallback."""
    provider = failed_at or row.provider
    if await fail_over(ctx, session, row, now=now, reason=reason, failed_at=provider) is None:
        await fall_back(ctx, session, row, now=now, reason=reason)
