"""The whole loop with the worker running: alarm → SMS and call → answered from the phone.

The alarm enters where the runtime hands a stored button event to dispatch (``raise_findings``
with the shipped escalation policy); the outbox worker runs as it does in the service, woken by
the bus; Twilio is the local fake, and its side of the webhooks is played against the app.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from anju.domain import Channel, IncidentState
from anju.notify import DeliveryPolicy, outbox_loop, wake
from anju.store.models import Contact, Incident, IncidentEvent
from tests.support.settings import make_settings
from tests.support.twilio_fake import (
    Harness,
    TwilioFake,
    harness,
    page,
    press_button,
    seed_household,
    twilio_settings,
)


@pytest.fixture
async def running(db_url: str) -> AsyncIterator[tuple[Harness, TwilioFake]]:
    fake = await TwilioFake().start()
    settings = make_settings(db_url, **twilio_settings(fake.url))
    async with harness(settings, policy=DeliveryPolicy(backoff_base_s=0.1)) as env:
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox_loop(env.ctx, stop, interval_s=0.2))
        try:
            yield env, fake
        finally:
            stop.set()
            await asyncio.wait_for(worker, 10)
            await fake.stop()


async def _state(env: Harness, incident_id: int) -> str:
    async with env.ctx.db() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        return incident.state


async def test_alarm_reaches_the_duty_phone_at_once_and_an_sms_reply_acknowledges(
    running: tuple[Harness, TwilioFake],
) -> None:
    env, fake = running
    hid, _ = await seed_household(env.ctx)
    started = time.perf_counter()
    incident_id = await press_button(env.ctx, hid)
    sms = await fake.next_created(within_s=5)
    # Woken by the bus, not by a poll: ~50 ms here (bench/notify_latency.py); generous under CI load.
    assert sms.kind == "sms" and sms.arrived - started < 5.0
    await env.twilio.report(sms, "delivered")
    reply = await env.twilio.sms_in(sms.to, "收到")
    assert "已确认接警" in reply.text
    assert await _state(env, incident_id) == IncidentState.ACKNOWLEDGED.value
    async with env.ctx.db() as session:
        kinds = list(
            await session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id))
        )
    assert "phone_accept" in kinds and "transition" in kinds


async def test_failed_sms_becomes_a_call_answered_with_key_1_which_dispatches_the_contact(
    running: tuple[Harness, TwilioFake],
) -> None:
    env, fake = running
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    duty = await fake.next_created(within_s=5)
    # The center acknowledges by SMS, then asks the first contact to visit.
    await env.twilio.sms_in(duty.to, "1")
    async with env.ctx.db() as session:
        contact = await session.get(Contact, contacts[0])
        assert contact is not None
    await page(env.ctx, incident_id, Channel.SMS, to=contact.phone, contact_id=contact.id, name=contact.name)
    wake(env.ctx)
    visit = await fake.next_created(within_s=5)
    assert visit.to == contact.phone and "确认上门" in visit.body
    started = time.perf_counter()
    await env.twilio.report(visit, "undelivered", ErrorCode="30005")
    call = await fake.next_created(within_s=5)
    assert call.kind == "voice" and call.to == visit.to
    assert call.arrived - started < 60  # the promise; in practice well under a second
    script = await env.twilio.fetch_script(call)
    gather = re.search(r'<Gather action="([^"]+)"', script.text)
    assert gather is not None
    answer = await env.twilio.press(call, gather.group(1), "1")
    assert "上门处置" in answer.text
    assert await _state(env, incident_id) == IncidentState.DISPATCHED.value
    # Accepting sends the responder the address in writing (dispatch's request SMS).
    followup = await fake.next_created(within_s=5)
    assert followup.kind == "sms" and followup.to == visit.to and "上门" in followup.body
