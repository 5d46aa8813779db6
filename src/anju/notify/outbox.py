"""The outbox worker: at least once, never twice per row.

A row is claimed (``pending`` → ``sending``, ``attempts`` + 1) and that claim is committed before
the provider is called; the provider's id is stored after. A worker that dies in between leaves
the row in ``sending``; the next worker looks for the provider's copy before sending again (see
a provider's ``find_sent`` and docs/notifications.md), and a status callback that names the row
binds it even earlier.

This module sends and records what came of it; claiming a row is ``notify.claim``, rows left
behind are ``notify.recovery``, the providers in use ``notify.notifiers``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.context import Context
from anju.domain import Channel, NotificationStatus
from anju.errors import DeliveryFailed
from anju.notify.claim import Claimed, provider_ids_elsewhere
from anju.notify.content import GROUP_CHANNELS
from anju.notify.failover import fail_over_or_fall_back
from anju.notify.notifiers import build_provider, notifier_for, policy_for, use_notifier, wake
from anju.notify.policy import DeliveryPolicy
from anju.notify.provider import Notifier, Outgoing, Sent
from anju.notify.recovery import claim_or_fail, fail_row, reconcile_stuck, sweep_overdue
from anju.notify.routing import RoutedFailure
from anju.notify.tracking import AWAITING_REPORT, SYSTEM, announce, count, lock_notification
from anju.store.db import transaction
from anju.store.models import Notification
from anju.store.safe import storable

# With the worker, the calls that set it up and recover its rows, for the callers (the package,
# the runtime, the Twilio webhooks, tests) that know the outbox by this module's name.
__all__ = [
    "NO_PROVIDER",
    "build_provider",
    "deliver_due",
    "deliver_one",
    "fail_row",
    "notifier_for",
    "outbox_loop",
    "policy_for",
    "reconcile_stuck",
    "sweep_overdue",
    "use_notifier",
    "wake",
]

log = logging.getLogger("anju.notify")
_S = NotificationStatus
NO_PROVIDER = "no provider configured"


async def _send(notifier: Notifier, message: Outgoing) -> Sent | None:
    """Hand ``message`` to its provider; None when its channel has no provider."""
    if message.channel is Channel.CONSOLE:
        return Sent(
            provider="console",
            provider_id=f"console-{message.notification_id}",
            status=_S.DELIVERED,
            tracked=False,
        )
    if message.channel in GROUP_CHANNELS:
        return await notifier.chat.post(message) if notifier.chat else None
    if notifier.phone is None:
        return None
    if message.channel is Channel.VOICE:
        return await notifier.phone.make_call(message)
    return await notifier.phone.send_sms(message)


async def deliver_one(ctx: Context, notifier: Notifier, claimed: Claimed, policy: DeliveryPolicy) -> None:
    """Send a claimed row and record what happened; never raises for a delivery problem."""
    message = claimed.outgoing()
    try:
        sent: Sent | None = None
        if claimed.attempt > 1 and notifier.phone and claimed.channel in (Channel.SMS, Channel.VOICE):
            # An earlier attempt may have reached the provider before failing on our side.
            exclude = await provider_ids_elsewhere(ctx, claimed)
            sent = await notifier.phone.find_sent(message, since=claimed.created_at, exclude=exclude)
        if sent is None:
            sent = await _send(notifier, message)
    except DeliveryFailed as err:
        await _record_failure(ctx, claimed, err, policy)
        return
    except Exception as err:  # a provider bug must not kill the worker or lose the row
        log.exception("provider crashed on notification %s", claimed.id)
        await _record_failure(
            ctx, claimed, DeliveryFailed(f"internal error: {err!r}", retryable=True), policy
        )
        return
    await _record_sent(ctx, claimed, sent, policy)


async def _record_sent(ctx: Context, claimed: Claimed, sent: Sent | None, policy: DeliveryPolicy) -> None:
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        row = await lock_notification(session, claimed.id, now)
        if row is None:
            return
        if sent is None:
            row.status = _S.NOT_SENT.value
            row.last_error = f"{NO_PROVIDER} for {claimed.channel.value}"
            row.next_attempt_at = None
        elif row.status == _S.SENDING.value:
            row.status = sent.status.value
            row.provider, row.provider_id = sent.provider, sent.provider_id
            row.last_error = None
            tracked = sent.tracked and row.status in AWAITING_REPORT
            row.next_attempt_at = now + policy.report_timeout(claimed.channel) if tracked else None
        else:
            # A status callback got here first; it already moved the row on.
            row.provider = row.provider or sent.provider
            row.provider_id = row.provider_id or sent.provider_id
            return
        await _audit_send(session, row, attempt=claimed.attempt, now=now)
    count(ctx, claimed.channel.value, row.status)
    announce(ctx, row)


async def _audit_send(session: AsyncSession, row: Notification, *, attempt: int, now: datetime) -> None:
    """What one delivery attempt came to, on the audit trail (the caller holds the chain lock)."""
    await audit.record(
        session,
        at=now,
        actor=row.provider or SYSTEM,
        action="notification.send",
        entity="notification",
        entity_id=row.id,
        content={
            "incident_id": row.incident_id,
            "channel": row.channel,
            "attempt": attempt,
            "status": row.status,
            "provider_id": row.provider_id,
            "error": row.last_error,
        },
    )


async def _record_failure(
    ctx: Context, claimed: Claimed, err: DeliveryFailed, policy: DeliveryPolicy
) -> None:
    now = ctx.clock.now()
    log.warning("notification %s attempt %s failed: %s", claimed.id, claimed.attempt, err.graceful_msg)
    async with transaction(ctx.db) as session:
        row = await lock_notification(session, claimed.id, now)
        if row is None or row.status != _S.SENDING.value:
            return
        row.last_error = storable(f"attempt {claimed.attempt}: {err.graceful_msg}", limit=1000)
        if err.retryable and claimed.attempt < policy.max_attempts:
            row.status = _S.PENDING.value
            row.next_attempt_at = now + policy.backoff(claimed.attempt)
            count(ctx, claimed.channel.value, "retry")
            await _audit_send(session, row, attempt=claimed.attempt, now=now)
        else:
            row.status = _S.FAILED.value
            row.next_attempt_at = None
            count(ctx, claimed.channel.value, _S.FAILED.value)
            # The provider that refused is recorded, and the other one tried before any fallback.
            failed_at = err.provider if isinstance(err, RoutedFailure) else None
            row.provider = row.provider or failed_at
            await _audit_send(session, row, attempt=claimed.attempt, now=now)
            await fail_over_or_fall_back(
                ctx,
                session,
                row,
                now=now,
                reason=f"{claimed.channel.value} could not be sent",
                failed_at=failed_at,
            )
    announce(ctx, row)


async def deliver_due(ctx: Context, now: datetime) -> int:
    """One pass: reconcile, expire overdue reports, send what is due. Returns rows handled."""
    notifier = notifier_for(ctx)
    policy = policy_for(ctx)
    handled = await reconcile_stuck(ctx, notifier, now, older_than_s=policy.stuck_after_s)
    handled += await sweep_overdue(ctx, now)
    async with ctx.db() as session:
        due = list(
            await session.scalars(
                select(Notification.id)
                .where(
                    Notification.status == _S.PENDING.value,
                    or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
                )
                .order_by(Notification.id)
                .limit(policy.batch)
            )
        )
    claimed = [c for c in [await claim_or_fail(ctx, row_id, now) for row_id in due] if c is not None]
    gate = asyncio.Semaphore(policy.concurrency)

    async def guarded(item: Claimed) -> None:
        async with gate:
            await deliver_one(ctx, notifier, item, policy)

    results = await asyncio.gather(*(guarded(item) for item in claimed), return_exceptions=True)
    for item, result in zip(claimed, results, strict=True):
        if isinstance(result, Exception):  # left in ``sending``: reconciled by a later pass
            log.error("recording notification %s failed", item.id, exc_info=result)
    return handled + len(claimed)


async def outbox_loop(ctx: Context, stop: asyncio.Event, interval_s: float = 0.2) -> None:
    """Deliver until ``stop`` is set; wakes early on any bus event (new rows, transitions)."""
    notifier = notifier_for(ctx)
    log.info("notification providers: %s", notifier.describe())
    woken = asyncio.Event()

    async def listen() -> None:
        async with ctx.bus.subscribe() as queue:
            while True:
                await queue.get()
                woken.set()

    listener = asyncio.create_task(listen())
    stopper = asyncio.create_task(stop.wait())
    try:
        # Anything still in ``sending`` was left by a previous run of this (single) worker.
        reconciled = False
        while not stop.is_set():
            woken.clear()
            try:
                # Inside the try: a database hiccup at start must not end the worker for good.
                if not reconciled:
                    await reconcile_stuck(ctx, notifier, ctx.clock.now(), older_than_s=0)
                    reconciled = True
                await deliver_due(ctx, ctx.clock.now())
            except Exception:  # the database may be briefly away; keep the loop alive
                log.exception("outbox pass failed; retrying")
            waiter = asyncio.create_task(woken.wait())
            await asyncio.wait({waiter, stopper}, timeout=interval_s, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    finally:
        listener.cancel()
        stopper.cancel()
        await notifier.aclose()
