"""The outbox against a Twilio-shaped fake: retries, backoff, timeouts, restarts, no provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from anju.domain import Channel, NotificationStatus
from anju.notify import DeliveryPolicy, deliver_due, use_notifier
from anju.notify.outbox import build_provider
from anju.store.db import transaction
from anju.store.models import AuditRecord, IncidentEvent, Notification
from tests.support.settings import make_settings
from tests.support.twilio_fake import (
    FROM_NUMBER,
    Fault,
    Harness,
    TwilioFake,
    harness,
    page,
    press_button,
    row,
    rows,
    seed_household,
    twilio_settings,
)

FAST = DeliveryPolicy(backoff_base_s=0.0, backoff_max_s=0.0, max_attempts=3, stuck_after_s=30.0)


@pytest.fixture
async def env(db_url: str, fake: TwilioFake) -> AsyncIterator[Harness]:
    settings = make_settings(db_url, **twilio_settings(fake.url))
    async with harness(settings, policy=FAST) as h:
        yield h


async def test_button_press_sends_the_duty_sms_once_with_its_reference(
    env: Harness, fake: TwilioFake
) -> None:
    hid, _ = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    await deliver_due(env.ctx, env.ctx.clock.now())  # a second pass must not send again
    sms = [r for r in await rows(env.ctx, incident_id) if r.channel == Channel.SMS.value]
    assert len(sms) == 1
    assert sms[0].status == NotificationStatus.QUEUED.value
    assert sms[0].attempts == 1
    sent = fake.of("sms")
    assert len(sent) == 1
    assert sms[0].provider_id == sent[0].sid
    assert sent[0].from_ == FROM_NUMBER
    assert sent[0].body.endswith(f"#{sms[0].id}")
    assert "回复1" in sent[0].body  # how to answer is always in the message
    assert sent[0].status_callback == f"http://anju.test/twilio/sms/status?n={sms[0].id}&a=1"
    # The console row is delivered without a provider.
    console = [r for r in await rows(env.ctx, incident_id) if r.channel == Channel.CONSOLE.value]
    assert console and all(r.status == NotificationStatus.DELIVERED.value for r in console)


async def test_http_500_is_retried_with_backoff_and_the_sms_goes_out_once(
    env: Harness, fake: TwilioFake
) -> None:
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    fake.faults.extend([Fault(status=500), Fault(status=503)])
    rid = await page(env.ctx, incident_id, Channel.SMS, to="13900001111", contact_id=contacts[0])
    before = len(fake.of("sms"))
    for _ in range(3):
        await deliver_due(env.ctx, env.ctx.clock.now())
    r = await row(env.ctx, rid)
    assert r.status == NotificationStatus.QUEUED.value
    assert r.attempts == 3
    assert r.to_address == "+8613900001111"  # normalised for Twilio and for matching replies
    assert len(fake.of("sms", "+8613900001111")) == 1
    assert len(fake.of("sms")) == before + 1


async def test_backoff_waits_before_the_next_attempt(db_url: str, fake: TwilioFake) -> None:
    settings = make_settings(db_url, **twilio_settings(fake.url))
    async with harness(settings, policy=DeliveryPolicy(backoff_base_s=60.0, backoff_max_s=120.0)) as env:
        hid, contacts = await seed_household(env.ctx)
        incident_id = await press_button(env.ctx, hid)
        await deliver_due(env.ctx, env.ctx.clock.now())
        fake.faults.append(Fault(status=500))
        rid = await page(env.ctx, incident_id, Channel.SMS, to="+8613900002222", contact_id=contacts[0])
        await deliver_due(env.ctx, env.ctx.clock.now())
        r = await row(env.ctx, rid)
        assert r.status == NotificationStatus.PENDING.value
        assert "HTTP 500" in (r.last_error or "")
        assert r.next_attempt_at is not None
        assert r.next_attempt_at >= env.ctx.clock.now() + timedelta(seconds=55)
        await deliver_due(env.ctx, env.ctx.clock.now())  # not yet due
        assert (await row(env.ctx, rid)).attempts == 1
        await deliver_due(env.ctx, r.next_attempt_at)
        assert (await row(env.ctx, rid)).status == NotificationStatus.QUEUED.value


async def test_a_timeout_after_twilio_created_the_sms_does_not_send_it_twice(
    db_url: str, fake: TwilioFake
) -> None:
    settings = make_settings(db_url, **twilio_settings(fake.url))
    async with harness(settings, policy=FAST) as env:
        provider = env.ctx.notifier.phone
        provider._timeout_s = 0.5
        hid, contacts = await seed_household(env.ctx)
        incident_id = await press_button(env.ctx, hid)
        await deliver_due(env.ctx, env.ctx.clock.now())
        fake.faults.append(Fault(hang_s=2.0, after_create=True))
        rid = await page(env.ctx, incident_id, Channel.SMS, to="+8613900003333", contact_id=contacts[0])
        await deliver_due(env.ctx, env.ctx.clock.now())
        r = await row(env.ctx, rid)
        assert r.status == NotificationStatus.PENDING.value
        assert "in time" in (r.last_error or "")
        await deliver_due(env.ctx, env.ctx.clock.now())
        r = await row(env.ctx, rid)
        created = fake.of("sms", "+8613900003333")
        assert len(created) == 1, "the retry found Twilio's copy instead of sending again"
        assert r.status == NotificationStatus.QUEUED.value
        assert r.provider_id == created[0].sid


async def test_a_row_left_sending_by_a_dead_worker_is_bound_to_twilios_copy_or_resent_once(
    env: Harness, fake: TwilioFake
) -> None:
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    reached = await page(env.ctx, incident_id, Channel.SMS, to="+8613900004444", contact_id=contacts[0])
    lost = await page(env.ctx, incident_id, Channel.SMS, to="+8613900005555", contact_id=contacts[1])
    await deliver_due(env.ctx, env.ctx.clock.now())
    reached_sid = fake.of("sms", "+8613900004444")[0].sid
    # Simulate the crash: Twilio has the first message but we never stored its id; the second
    # was claimed and the worker died before the request left.
    async with transaction(env.ctx.db) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id.in_([reached, lost]))
            .values(status="sending", provider_id=None, provider=None)
        )
    fake.created = [c for c in fake.created if c.to != "+8613900005555"]
    later = env.ctx.clock.now() + timedelta(seconds=31)
    await deliver_due(env.ctx, later)  # reconcile
    await deliver_due(env.ctx, later)  # resend what Twilio never had
    r1, r2 = await row(env.ctx, reached), await row(env.ctx, lost)
    assert r1.provider_id == reached_sid and r1.status == NotificationStatus.QUEUED.value
    assert "not sent again" in (r1.last_error or "")
    assert len(fake.of("sms", "+8613900004444")) == 1
    assert r2.status == NotificationStatus.QUEUED.value
    assert len(fake.of("sms", "+8613900005555")) == 1


async def test_non_retryable_error_fails_at_once_and_falls_back_to_a_voice_call(
    env: Harness, fake: TwilioFake
) -> None:
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    fake.faults.append(Fault(status=400, code=21211))
    rid = await page(env.ctx, incident_id, Channel.SMS, to="+8613900006666", contact_id=contacts[0])
    await deliver_due(env.ctx, env.ctx.clock.now())
    r = await row(env.ctx, rid)
    assert r.status == NotificationStatus.FAILED.value and r.attempts == 1
    assert "21211" in (r.last_error or "")
    await deliver_due(env.ctx, env.ctx.clock.now())
    fallback = [x for x in await rows(env.ctx, incident_id) if x.step == f"fallback:{rid}"]
    assert len(fallback) == 1 and fallback[0].channel == Channel.VOICE.value
    assert fallback[0].to_address == "+8613900006666" and fallback[0].contact_id == contacts[0]
    calls = fake.of("voice", "+8613900006666")
    assert len(calls) == 1
    assert calls[0].url == f"http://anju.test/twilio/voice/{fallback[0].id}/twiml"
    async with env.ctx.db() as session:
        kinds = set(
            await session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id))
        )
        actions = set(await session.scalars(select(AuditRecord.action)))
    assert "notification_fallback" in kinds
    assert "notification.fallback" in actions


async def test_retries_exhausted_mark_the_row_failed_and_visible(env: Harness, fake: TwilioFake) -> None:
    hid, _ = await seed_household(env.ctx, contacts=0)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    fake.faults.extend([Fault(status=500)] * 6)
    rid = await page(env.ctx, incident_id, Channel.VOICE, to="+8613900007777")
    for _ in range(3):
        await deliver_due(env.ctx, env.ctx.clock.now())
    r = await row(env.ctx, rid)
    assert r.status == NotificationStatus.FAILED.value and r.attempts == 3
    assert r.last_error and r.last_error.startswith("attempt 3:")
    async with env.ctx.db() as session:
        kinds = list(
            await session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id))
        )
    assert "notification_exhausted" in kinds  # nobody left to call: the console says so


async def test_without_a_provider_every_notification_is_recorded_not_sent(db_url: str) -> None:
    settings = make_settings(db_url)
    async with harness(settings) as env:
        hid, contacts = await seed_household(env.ctx)
        incident_id = await press_button(env.ctx, hid)
        await page(env.ctx, incident_id, Channel.VOICE, to="+8613900008888", contact_id=contacts[0])
        await page(env.ctx, incident_id, Channel.DINGTALK, to="+8613900008888", contact_id=contacts[0])
        handled = await deliver_due(env.ctx, env.ctx.clock.now())
        found = await rows(env.ctx, incident_id)
        assert handled == len(found) >= 4
        for r in found:
            if r.channel == Channel.CONSOLE.value:
                assert r.status == NotificationStatus.DELIVERED.value
            else:
                assert r.status == NotificationStatus.NOT_SENT.value
                assert r.last_error == f"no provider configured for {r.channel}"
        metric = env.ctx.metrics.registry.get_sample_value(
            "anju_notifications_total", {"channel": "sms", "status": "not_sent"}
        )
        assert metric == 1.0


async def test_log_provider_records_messages_for_development(db_url: str) -> None:
    settings = make_settings(db_url)
    async with harness(settings) as env:
        notifier = build_provider(settings, dev_log=True)
        use_notifier(env.ctx, notifier)
        hid, _ = await seed_household(env.ctx)
        incident_id = await press_button(env.ctx, hid)
        await deliver_due(env.ctx, env.ctx.clock.now())
        sms = [r for r in await rows(env.ctx, incident_id) if r.channel == Channel.SMS.value]
        assert sms[0].status == NotificationStatus.SENT.value and sms[0].provider == "log"
        assert sms[0].next_attempt_at is None  # a log line reports no delivery: no fallback timer
