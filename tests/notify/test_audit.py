"""Every delivery attempt's outcome is on the tamper-evident audit trail, next to the row's status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from anju.audit import verify
from anju.domain import Channel, NotificationStatus
from anju.notify import DeliveryPolicy, deliver_due
from anju.store.models import AuditRecord
from tests.support.settings import make_settings
from tests.support.twilio_fake import (
    Fault,
    Harness,
    TwilioFake,
    harness,
    page,
    press_button,
    row,
    seed_household,
    twilio_settings,
)

FAST = DeliveryPolicy(backoff_base_s=0.0, backoff_max_s=0.0, max_attempts=3, stuck_after_s=30.0)


@pytest.fixture
async def env(db_url: str) -> AsyncIterator[tuple[Harness, TwilioFake]]:
    fake = await TwilioFake().start()
    try:
        async with harness(make_settings(db_url, **twilio_settings(fake.url)), policy=FAST) as h:
            yield h, fake
    finally:
        await fake.stop()


async def test_a_retried_then_sent_sms_leaves_one_audit_record_per_attempt(
    env: tuple[Harness, TwilioFake],
) -> None:
    h, fake = env
    hid, contacts = await seed_household(h.ctx)
    incident_id = await press_button(h.ctx, hid)
    await deliver_due(h.ctx, h.ctx.clock.now())
    fake.faults.append(Fault(status=500))
    rid = await page(h.ctx, incident_id, Channel.SMS, to="13900001111", contact_id=contacts[0])
    for _ in range(2):
        await deliver_due(h.ctx, h.ctx.clock.now())
    assert (await row(h.ctx, rid)).status == NotificationStatus.QUEUED.value

    async with h.ctx.db() as session:
        records = (
            await session.scalars(
                select(AuditRecord)
                .where(AuditRecord.action == "notification.send", AuditRecord.entity_id == str(rid))
                .order_by(AuditRecord.id)
            )
        ).all()
        count, broken = await verify(session)
    assert [(r.content["attempt"], r.content["status"]) for r in records] == [(1, "pending"), (2, "queued")]
    assert "HTTP 500" in (records[0].content["error"] or "")
    assert records[1].content["provider_id"]
    assert broken is None and count > 0
