"""Rows the worker could not finish: left in ``sending`` by a dead worker, waiting too long for a
delivery report, or impossible to prepare. Each is reconciled, falls back, or is failed visibly;
none stops a pass for the rows behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from anju.context import Context
from anju.domain import Channel, NotificationStatus
from anju.errors import DeliveryFailed
from anju.notify.claim import Claimed, claim, provider_ids_elsewhere
from anju.notify.notifiers import policy_for
from anju.notify.policy import DeliveryPolicy
from anju.notify.provider import Notifier, Outgoing, Sent
from anju.notify.tracking import (
    AWAITING_REPORT,
    announce,
    count,
    expire_overdue,
    fall_back,
    lock_notification,
)
from anju.store.db import is_transient_error, transaction
from anju.store.models import Notification
from anju.store.safe import storable

log = logging.getLogger("anju.notify")
_S = NotificationStatus


async def claim_or_fail(ctx: Context, row_id: int, now: datetime) -> Claimed | None:
    """``claim``, except that a row which cannot be prepared is failed instead of ending the pass."""
    try:
        return await claim(ctx, row_id, now)
    except Exception as err:
        if is_transient_error(err):
            raise  # the database is away: the whole pass is retried
        await fail_row(ctx, row_id, now, err, doing="preparing it", expect=(_S.PENDING.value,))
        return None


async def fail_row(
    ctx: Context, row_id: int, now: datetime, err: BaseException, *, doing: str, expect: Iterable[str]
) -> None:
    """A row this worker cannot handle: ``failed`` with the reason (shown on the console), then the
    usual fallback to someone else. Left as it was, it would stop every pass at the same place."""
    reason = storable(f"internal error {doing}: {type(err).__name__}: {err}", limit=1000)
    log.error("notification %s: %s", row_id, reason, exc_info=err)
    async with transaction(ctx.db) as session:
        row = await lock_notification(session, row_id, now)
        if row is None or row.status not in set(expect):
            return
        row.status = _S.FAILED.value
        row.last_error = reason
        row.next_attempt_at = None
    count(ctx, row.channel, _S.FAILED.value)
    announce(ctx, row)
    try:  # its own transaction: a fallback that fails too must not undo the visible failure
        async with transaction(ctx.db) as session:
            row = await lock_notification(session, row_id, now)
            if row is not None:
                await fall_back(ctx, session, row, now=now, reason=reason)
    except Exception as fallback_err:
        if is_transient_error(fallback_err):
            raise
        log.exception("no fallback for notification %s", row_id)


async def reconcile_stuck(ctx: Context, notifier: Notifier, now: datetime, *, older_than_s: float) -> int:
    """Rows a dead worker left in ``sending``: bind the provider's copy if there is one, else resend."""
    cutoff = now - timedelta(seconds=older_than_s)
    async with ctx.db() as session:
        stuck = list(
            await session.scalars(
                select(Notification).where(
                    Notification.status == _S.SENDING.value, Notification.updated_at <= cutoff
                )
            )
        )
    policy = policy_for(ctx)
    for row in stuck:
        try:
            await _reconcile_one(ctx, notifier, row, now, policy)
        except Exception as err:
            if is_transient_error(err):
                raise
            await fail_row(ctx, row.id, now, err, doing="reconciling it", expect=(_S.SENDING.value,))
    return len(stuck)


async def _reconcile_one(
    ctx: Context, notifier: Notifier, row: Notification, now: datetime, policy: DeliveryPolicy
) -> None:
    claimed = Claimed(
        row.id, row.attempts, Channel(row.channel), row.to_address, row.body, row.language, row.created_at
    )
    found: Sent | None = None
    if notifier.phone is not None and claimed.channel in (Channel.SMS, Channel.VOICE):
        message = Outgoing(
            notification_id=row.id,
            attempt=row.attempts,
            channel=claimed.channel,
            to=row.to_address,
            body=row.body,
            language=row.language,
        )
        try:
            exclude = await provider_ids_elsewhere(ctx, claimed)
            found = await notifier.phone.find_sent(message, since=row.created_at, exclude=exclude)
        except DeliveryFailed as err:
            log.warning("cannot reconcile notification %s yet: %s", row.id, err.graceful_msg)
            return
    async with transaction(ctx.db) as session:
        locked = await lock_notification(session, row.id, now, chain=False)
        if locked is None or locked.status != _S.SENDING.value:
            return
        if found is not None:
            locked.status = found.status.value
            locked.provider, locked.provider_id = found.provider, found.provider_id
            locked.next_attempt_at = now + policy.report_timeout(claimed.channel)
            locked.last_error = "worker stopped mid-send; the provider had it, not sent again"
        else:
            locked.status = _S.PENDING.value
            locked.next_attempt_at = now
            locked.last_error = "worker stopped mid-send; the provider has no copy, sending again"
    log.warning("notification %s reconciled: %s", row.id, locked.last_error)


async def sweep_overdue(ctx: Context, now: datetime) -> int:
    """Rows whose delivery report never came fall back."""
    async with ctx.db() as session:
        ids = list(
            await session.scalars(
                select(Notification.id).where(
                    Notification.status.in_(AWAITING_REPORT),
                    Notification.next_attempt_at.is_not(None),
                    Notification.next_attempt_at <= now,
                )
            )
        )
    done = 0
    for row_id in ids:
        try:
            async with transaction(ctx.db) as session:
                done += await expire_overdue(ctx, session, row_id, now=now)
        except Exception as err:
            if is_transient_error(err):
                raise
            await fail_row(ctx, row_id, now, err, doing="expiring its overdue report", expect=AWAITING_REPORT)
            done += 1
    return done
