"""The outbox worker: at least once, never twice per row.

A row is claimed (``pending`` → ``sending``, ``attempts`` + 1) and that claim is committed before
the provider is called; the provider's id is stored after. A worker that dies in between leaves
the row in ``sending``; the next worker looks for the provider's copy before sending again (see
a provider's ``find_sent`` and docs/notifications.md), and a status callback that names the row
binds it even earlier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.clock import Clock
from anju.config import Settings
from anju.context import Context
from anju.domain import Channel, NotificationStatus
from anju.errors import DeliveryFailed
from anju.notify.content import alert_facts, is_visit_request, render
from anju.notify.failover import fail_over_or_fall_back
from anju.notify.phone import normalize_phone
from anju.notify.policy import DEFAULT_POLICY, DeliveryPolicy
from anju.notify.provider import Notifier, Outgoing, Sent
from anju.notify.routing import RoutedFailure, bind_metrics, build_notifier, route_for
from anju.notify.templates import AlertFacts
from anju.notify.tracking import (
    AWAITING_REPORT,
    SYSTEM,
    announce,
    count,
    expire_overdue,
    fall_back,
    lock_notification,
)
from anju.store.db import is_transient_error, transaction
from anju.store.models import Incident, Notification
from anju.store.safe import storable

log = logging.getLogger("anju.notify")
_S = NotificationStatus
NO_PROVIDER = "no provider configured"


def build_provider(settings: Settings, *, clock: Clock | None = None, dev_log: bool = False) -> Notifier:
    """Providers from the settings (see ``anju.notify.routing.build_notifier``); with none, rows are
    recorded ``not_sent`` (or logged if ``dev_log``)."""
    return build_notifier(settings, clock=clock, dev_log=dev_log)  # i16: routing and failover


def use_notifier(ctx: Context, notifier: Notifier, policy: DeliveryPolicy | None = None) -> None:
    """Install the providers (and optionally a policy) ``deliver_due`` uses for this context."""
    ctx.notifier = notifier
    bind_metrics(notifier, ctx.metrics)  # i16: per-provider metrics
    if policy is not None:
        ctx.delivery_policy = policy


def notifier_for(ctx: Context) -> Notifier:
    if ctx.notifier is None:
        ctx.notifier = build_provider(ctx.settings, clock=ctx.clock)
        bind_metrics(ctx.notifier, ctx.metrics)  # i16: per-provider metrics
    return ctx.notifier


def policy_for(ctx: Context) -> DeliveryPolicy:
    return ctx.delivery_policy or DEFAULT_POLICY


def wake(ctx: Context) -> None:
    """Tell the outbox worker new rows are waiting (call after the commit that wrote them)."""
    ctx.bus.publish({"type": "notifications.pending"})


@dataclass(frozen=True)
class Claimed:
    id: int
    attempt: int
    channel: Channel
    to: str
    body: str
    language: str
    created_at: datetime
    incident_id: int | None = None
    household_id: str | None = None
    recipient: str | None = None
    facts: AlertFacts | None = None
    route: str | None = None  # i16: the provider named for the row
    pinned: bool = False  # i16: a failover, pinned to its provider

    def outgoing(self) -> Outgoing:
        return Outgoing(
            notification_id=self.id,
            attempt=self.attempt,
            channel=self.channel,
            to=self.to,
            body=self.body,
            language=self.language,
            incident_id=self.incident_id,
            household_id=self.household_id,
            recipient=self.recipient,
            facts=self.facts,
            route=self.route,
            pinned=self.pinned,
        )


async def claim(ctx: Context, row_id: int, now: datetime) -> Claimed | None:
    """Take one due row for this worker; the committed claim is what prevents a second send."""
    async with transaction(ctx.db) as session:
        result = await session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.status == _S.PENDING.value)
            .values(status=_S.SENDING.value, attempts=Notification.attempts + 1, updated_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = await session.get(Notification, row_id, populate_existing=True)
        assert row is not None
        channel = Channel(row.channel)
        if channel in (Channel.SMS, Channel.VOICE):
            row.to_address = normalize_phone(row.to_address)
        incident = await session.get(Incident, row.incident_id) if row.incident_id is not None else None
        facts = None
        if incident is not None:
            visit = is_visit_request(incident, row)
            tz = ctx.settings.timezone
            facts = await alert_facts(session, incident, default_tz=tz, visit_request=visit)
        # Stored at the claim so a resend (and a lookup after a crash) uses the very same text.
        row.body = render(row, incident, facts)
        route, pinned = await route_for(session, row, incident)  # i16
        return Claimed(
            row.id,
            row.attempts,
            channel,
            row.to_address,
            row.body,
            row.language,
            row.created_at,
            incident_id=row.incident_id,
            household_id=incident.household_id if incident is not None else None,
            recipient=row.recipient_name,
            facts=facts,
            route=route,
            pinned=pinned,
        )


async def _provider_ids_elsewhere(ctx: Context, claimed: Claimed) -> frozenset[str]:
    async with ctx.db() as session:
        ids = await session.scalars(
            select(Notification.provider_id).where(
                Notification.to_address == claimed.to,
                Notification.channel == claimed.channel.value,
                Notification.provider_id.is_not(None),
                Notification.id != claimed.id,
            )
        )
        return frozenset(i for i in ids if i)


async def _send(notifier: Notifier, message: Outgoing) -> Sent | None:
    """Hand ``message`` to its provider; None when its channel has no provider."""
    if message.channel is Channel.CONSOLE:
        return Sent(
            provider="console",
            provider_id=f"console-{message.notification_id}",
            status=_S.DELIVERED,
            tracked=False,
        )
    if message.channel is Channel.DINGTALK:
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
            exclude = await _provider_ids_elsewhere(ctx, claimed)
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
            # i16: the provider that refused is recorded, and the other one tried before any fallback.
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


async def _claim_or_fail(ctx: Context, row_id: int, now: datetime) -> Claimed | None:
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
            exclude = await _provider_ids_elsewhere(ctx, claimed)
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
    claimed = [c for c in [await _claim_or_fail(ctx, row_id, now) for row_id in due] if c is not None]
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
