"""Every request Anju makes to Twilio passes Twilio's own OpenAPI description (Stoplight Prism).

Prism serves ../shared/specs/twilio/twilio_api_v2010.json and validates each request (auth,
required fields, types, formats), answering 401/422 to a bad one. Install it once with
``npm ci --prefix tests/prism``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from anju.domain import Channel, NotificationStatus
from anju.notify import DeliveryPolicy, deliver_due
from anju.store.db import transaction
from anju.store.models import Notification
from tests.support.prism import Prism
from tests.support.settings import make_settings
from tests.support.twilio_fake import (
    Harness,
    harness,
    page,
    press_button,
    row,
    rows,
    seed_household,
    twilio_settings,
)

#: Prism's example answers carry these fixed SIDs.
PRISM_SMS_SID = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


@pytest.fixture
async def env(db_url: str, prism: Prism) -> AsyncIterator[Harness]:
    settings = make_settings(db_url, **twilio_settings(prism.url))
    async with harness(settings, policy=DeliveryPolicy(backoff_base_s=0.0, backoff_max_s=0.0)) as h:
        yield h


async def test_sms_and_calls_in_both_languages_pass_twilios_api_description(
    env: Harness, prism: Prism
) -> None:
    before = prism.passed()
    hid, contacts = await seed_household(env.ctx, contacts=2)
    incident_id = await press_button(env.ctx, hid)  # the duty SMS of the critical policy
    await page(env.ctx, incident_id, Channel.VOICE, to="139 0000 1234", contact_id=contacts[0])
    await page(env.ctx, incident_id, Channel.SMS, to="+447700900123", contact_id=contacts[1], language="en")
    await deliver_due(env.ctx, env.ctx.clock.now())
    phone_rows = [r for r in await rows(env.ctx, incident_id) if r.channel in ("sms", "voice")]
    assert len(phone_rows) == 3
    for r in phone_rows:
        assert r.status == NotificationStatus.QUEUED.value, r.last_error
        assert r.provider == "twilio" and r.provider_id and r.provider_id[:2] in ("SM", "CA")
    assert prism.refused() == []
    assert prism.passed() - before == 3


async def test_lookups_after_a_restart_pass_twilios_api_description(env: Harness, prism: Prism) -> None:
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    sms = await page(env.ctx, incident_id, Channel.SMS, to="+8613900001234", contact_id=contacts[0])
    call = await page(env.ctx, incident_id, Channel.VOICE, to="+8613900001235", contact_id=contacts[1])
    async with transaction(env.ctx.db) as session:
        await session.execute(
            update(Notification)
            .where(Notification.id.in_([sms, call]))
            .values(status="sending", attempts=1, body="【安居】测试 #0")
        )
    before = prism.passed()
    later = env.ctx.clock.now() + timedelta(seconds=60)
    await deliver_due(env.ctx, later)  # lists Messages and Calls, finds none of ours
    await deliver_due(env.ctx, later)  # sends again
    for rid in (sms, call):
        r = await row(env.ctx, rid)
        assert r.status == NotificationStatus.QUEUED.value, r.last_error
        assert "sending again" in (r.last_error or "") or r.attempts == 2
    assert prism.refused() == []
    assert prism.passed() - before >= 4  # at least two lookups and two sends
    log = "\n".join(prism.lines())
    assert "get /2010-04-01/Accounts/" in log and "/Messages.json" in log and "/Calls.json" in log


async def test_prism_refuses_what_twilio_would_refuse(env: Harness, prism: Prism) -> None:
    """The check has teeth: a request Twilio's description forbids fails, and is recorded failed."""
    hid, _ = await seed_household(env.ctx, contacts=0)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    notifier = env.ctx.notifier
    notifier.phone.public_url = "not a url"  # the callback URLs lose their "uri" format
    rid = await page(env.ctx, incident_id, Channel.VOICE, to="+8613900009999")
    await deliver_due(env.ctx, env.ctx.clock.now())
    r = await row(env.ctx, rid)
    assert r.status == NotificationStatus.FAILED.value
    assert "HTTP 422" in (r.last_error or "")
    assert prism.refused() != []
    assert PRISM_SMS_SID  # the SID Prism answers with, for the reader
