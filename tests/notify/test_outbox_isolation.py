"""Hardening: one outbox row that cannot be handled never holds back the others' delivery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from anju.context import Context
from anju.domain import Channel, NotificationStatus
from anju.notify.outbox import deliver_due, notifier_for, reconcile_stuck, sweep_overdue
from anju.store.db import transaction
from anju.store.models import Household, Notification
from tests.support.settings import make_settings
from tests.support.twilio_fake import harness, press_button, rows, seed_household

_S = NotificationStatus


async def _break_timezone(ctx: Context, household_id: str, incident_id: int) -> None:
    """The household's time zone is invalid and its rows are rendered from the templates."""
    async with transaction(ctx.db) as session:
        await session.execute(
            update(Household).where(Household.id == household_id).values(timezone="Mars/Olympus_Mons")
        )
        await session.execute(
            update(Notification).where(Notification.incident_id == incident_id).values(body="")
        )


async def test_a_row_that_cannot_be_rendered_is_failed_with_its_reason_and_the_others_are_sent(
    db_url: str,
) -> None:
    async with harness(make_settings(db_url)) as env:
        ctx = env.ctx
        bad, _ = await seed_household(ctx)
        good, _ = await seed_household(ctx)
        bad_incident = await press_button(ctx, bad)  # its rows come first in the outbox
        good_incident = await press_button(ctx, good)
        await _break_timezone(ctx, bad, bad_incident)

        before = {r.id for r in await rows(ctx, bad_incident) if r.channel != Channel.CONSOLE.value}

        await deliver_due(ctx, ctx.clock.now())

        good_rows = await rows(ctx, good_incident)
        assert good_rows and all(r.status != _S.PENDING.value for r in good_rows)
        # (Rows the fallbacks added are tried by the next pass.)
        rendered = [r for r in await rows(ctx, bad_incident) if r.id in before]
        assert rendered
        for row in rendered:
            assert row.status == _S.FAILED.value
            assert row.last_error and "Mars/Olympus_Mons" in row.last_error


async def test_a_stuck_row_that_cannot_be_reconciled_does_not_stop_the_others(db_url: str) -> None:
    async with harness(make_settings(db_url)) as env:
        ctx = env.ctx
        hid, _ = await seed_household(ctx)
        incident_id = await press_button(ctx, hid)
        ids = [r.id for r in await rows(ctx, incident_id)]
        assert len(ids) >= 2
        past = ctx.clock.now() - timedelta(hours=1)
        async with transaction(ctx.db) as session:
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(status=_S.SENDING.value, updated_at=past)
            )
            # A row whose channel this version does not know: reconciling it raises.
            await session.execute(
                update(Notification).where(Notification.id == ids[0]).values(channel="pigeon")
            )
        await reconcile_stuck(ctx, notifier_for(ctx), ctx.clock.now(), older_than_s=0)
        after = {r.id: r for r in await rows(ctx, incident_id)}
        assert after[ids[0]].status == _S.FAILED.value and "pigeon" in (after[ids[0]].last_error or "")
        assert all(after[i].status == _S.PENDING.value for i in ids[1:])


async def test_an_overdue_row_that_cannot_be_expired_does_not_stop_the_others(db_url: str) -> None:
    async with harness(make_settings(db_url)) as env:
        ctx = env.ctx
        hid, _ = await seed_household(ctx)
        incident_id = await press_button(ctx, hid)
        ids = [r.id for r in await rows(ctx, incident_id)]
        past = ctx.clock.now() - timedelta(hours=1)
        async with transaction(ctx.db) as session:
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(status=_S.SENT.value, next_attempt_at=past, updated_at=past)
            )
            await session.execute(
                update(Notification).where(Notification.id == ids[0]).values(channel="pigeon")
            )
        await sweep_overdue(ctx, ctx.clock.now())
        after = {r.id: r for r in await rows(ctx, incident_id)}
        assert after[ids[0]].status == _S.FAILED.value and "pigeon" in (after[ids[0]].last_error or "")
        for i in ids[1:]:
            assert after[i].next_attempt_at is None
            assert (after[i].last_error or "").startswith("no delivery report by the deadline")
