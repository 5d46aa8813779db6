"""Twilio's webhooks: signatures, delivery tracking, fallback, and answering from a phone."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.domain import Channel, IncidentState, NotificationStatus
from anju.notify import DeliveryPolicy, deliver_due
from anju.store.models import AuditRecord, Contact, Incident, IncidentEvent
from tests.support.settings import make_settings
from tests.support.twilio_fake import (
    ACCOUNT_SID,
    PUBLIC_URL,
    Harness,
    TwilioFake,
    harness,
    page,
    press_button,
    row,
    rows,
    seed_household,
    sign,
    twilio_settings,
)

FAST = DeliveryPolicy(backoff_base_s=0.0, backoff_max_s=0.0)


@pytest.fixture
async def env(db_url: str, fake: TwilioFake) -> AsyncIterator[Harness]:
    async with harness(make_settings(db_url, **twilio_settings(fake.url)), policy=FAST) as h:
        yield h


async def _incident(env: Harness) -> Incident:
    async with env.ctx.db() as session:
        found = await session.scalar(select(Incident).order_by(Incident.id.desc()).limit(1))
        assert found is not None
        return found


async def _timeline(env: Harness, incident_id: int) -> list[IncidentEvent]:
    async with env.ctx.db() as session:
        query = (
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)
        )
        return list(await session.scalars(query))


async def _audit_actions(env: Harness) -> list[str]:
    async with env.ctx.db() as session:
        return list(await session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))


async def _duty_sms(env: Harness, fake: TwilioFake) -> tuple[int, int]:
    """A button press, its SMS delivered to the fake; returns (incident id, SMS row id)."""
    hid, _ = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    sms = [r for r in await rows(env.ctx, incident_id) if r.channel == Channel.SMS.value]
    return incident_id, sms[0].id


async def test_unsigned_and_wrongly_signed_webhooks_are_refused_with_403_and_change_nothing(
    env: Harness, fake: TwilioFake
) -> None:
    incident_id, sms_id = await _duty_sms(env, fake)
    record = fake.of("sms")[0]
    params = {"MessageSid": record.sid, "MessageStatus": "undelivered", "AccountSid": ACCOUNT_SID}
    unsigned = await env.twilio.post(record.status_callback, params, signed=False)
    forged = await env.twilio.post(
        record.status_callback, params, signature=sign(record.status_callback, params, "x")
    )
    # Signed for other fields than those received (Twilio signs every field it sends).
    tampered = await env.twilio.post(
        record.status_callback,
        {**params, "ErrorCode": "30003"},
        signature=sign(record.status_callback, params),
    )
    # Signed for the server's own URL rather than the public one.
    local = "http://127.0.0.1:8000/twilio/sms/status?" + record.status_callback.split("?")[1]
    wrong_url = await env.twilio.post(record.status_callback, params, signature=sign(local, params))
    inbound = await env.twilio.sms_in(record.to, "1", signed=False)
    script = await env.client.post(f"/twilio/voice/{sms_id}/twiml", data={"CallSid": "CA1"})
    for response in (unsigned, forged, tampered, wrong_url, inbound, script):
        assert response.status_code == 403
    r = await row(env.ctx, sms_id)
    assert r.status == NotificationStatus.QUEUED.value
    assert (await _incident(env)).state == IncidentState.OPEN.value
    assert len(await rows(env.ctx, incident_id)) == 2  # no fallback was created
    refused = env.ctx.metrics.registry.get_sample_value(
        "anju_notifications_total", {"channel": "webhook", "status": "bad_signature"}
    )
    assert refused == 6.0


async def test_signed_status_callbacks_move_the_sms_forward_only(env: Harness, fake: TwilioFake) -> None:
    _, sms_id = await _duty_sms(env, fake)
    record = fake.of("sms")[0]
    assert (await env.twilio.report(record, "sent")).status_code == 204
    assert (await row(env.ctx, sms_id)).status == NotificationStatus.SENT.value
    assert (await env.twilio.report(record, "delivered", ExtraFieldTwilioMayAdd="x")).status_code == 204
    assert (await env.twilio.report(record, "sent")).status_code == 204  # late and out of order
    r = await row(env.ctx, sms_id)
    assert r.status == NotificationStatus.DELIVERED.value
    assert r.next_attempt_at is None  # delivered: no fallback timer left
    delivered = env.ctx.metrics.registry.get_sample_value(
        "anju_notifications_total", {"channel": "sms", "status": "delivered"}
    )
    assert delivered == 1.0


async def test_undelivered_sms_calls_the_same_person_then_the_next_contact_within_60_s(
    env: Harness, fake: TwilioFake
) -> None:
    hid, contacts = await seed_household(env.ctx, contacts=2)
    incident_id = await press_button(env.ctx, hid)
    await deliver_due(env.ctx, env.ctx.clock.now())
    first = await page(
        env.ctx, incident_id, Channel.SMS, to="+8613911110001", contact_id=contacts[0], name="李明"
    )
    await deliver_due(env.ctx, env.ctx.clock.now())
    sms = fake.of("sms", "+8613911110001")[0]
    started = time.monotonic()
    assert (await env.twilio.report(sms, "undelivered", ErrorCode="30003")).status_code == 204
    await deliver_due(env.ctx, env.ctx.clock.now())
    call = fake.of("voice", "+8613911110001")
    assert len(call) == 1, "voice call to the same person"
    await env.twilio.report(call[0], "no-answer")
    await deliver_due(env.ctx, env.ctx.clock.now())
    async with env.ctx.db() as session:
        second = await session.get(Contact, contacts[1])
        assert second is not None
    next_call = fake.of("voice", second.phone)
    assert len(next_call) == 1, "then the next contact of the household"
    assert next_call[0].arrived - sms.arrived < 60
    assert time.monotonic() - started < 60
    r1 = await row(env.ctx, first)
    assert r1.status == NotificationStatus.UNDELIVERED.value and "30003" in (r1.last_error or "")
    kinds = [e.kind for e in await _timeline(env, incident_id)]
    assert kinds.count("notification_fallback") == 2
    assert (await _audit_actions(env)).count("notification.fallback") == 2
    # A second failure report for the same SMS does not call anyone twice.
    await env.twilio.report(sms, "failed")
    await deliver_due(env.ctx, env.ctx.clock.now())
    assert len(fake.of("voice", "+8613911110001")) == 1


async def test_no_delivery_report_within_the_timeout_falls_back_to_a_call(
    db_url: str, fake: TwilioFake
) -> None:
    clock = SimClock(datetime.now(UTC))
    settings = make_settings(db_url, **twilio_settings(fake.url))
    async with harness(settings, clock=clock, policy=DeliveryPolicy(sms_report_timeout_s=30)) as env:
        hid, contacts = await seed_household(env.ctx)
        incident_id = await press_button(env.ctx, hid)
        await deliver_due(env.ctx, clock.now())
        rid = await page(env.ctx, incident_id, Channel.SMS, to="+8613911110002", contact_id=contacts[0])
        await deliver_due(env.ctx, clock.now())
        await env.twilio.report(fake.of("sms", "+8613911110002")[0], "sent")  # handed on, never confirmed
        clock.advance(29)
        await deliver_due(env.ctx, clock.now())
        assert fake.of("voice", "+8613911110002") == []
        clock.advance(2)
        await deliver_due(env.ctx, clock.now())  # deadline passed: fallback row written
        await deliver_due(env.ctx, clock.now())  # and sent
        assert len(fake.of("voice", "+8613911110002")) == 1
        r = await row(env.ctx, rid)
        assert r.status == NotificationStatus.SENT.value
        assert "no delivery report" in (r.last_error or "")


async def test_voice_script_speaks_chinese_and_gathers_one_key(env: Harness, fake: TwilioFake) -> None:
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await page(env.ctx, incident_id, Channel.VOICE, to="+8613911110003", contact_id=contacts[0])
    await deliver_due(env.ctx, env.ctx.clock.now())
    call = fake.of("voice", "+8613911110003")[0]
    assert call.form["Timeout"] == "25"
    assert call.form["StatusCallback"].startswith(f"{PUBLIC_URL}/twilio/voice/status?n=")
    response = await env.twilio.fetch_script(call)
    assert response.status_code == 200
    xml = response.text
    assert '<Gather action="http://anju.test/twilio/voice/' in xml
    assert 'numDigits="1"' in xml
    assert '<Say language="zh-CN"' in xml
    assert "王秀英家" in xml and "天平路88弄" in xml and "紧急按钮报警" in xml and "按1" in xml
    assert "糖尿病" not in xml  # health notes stay in the console
    answered = next(r for r in await rows(env.ctx, incident_id) if r.channel == Channel.VOICE.value)
    assert answered.status == NotificationStatus.ANSWERED.value and answered.next_attempt_at is None


async def _gather_url(xml: str) -> str:
    found = re.search(r'<Gather action="([^"]+)"', xml)
    assert found
    return found.group(1)


async def test_pressing_1_on_the_duty_call_acknowledges_the_incident(env: Harness, fake: TwilioFake) -> None:
    hid, _ = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await page(env.ctx, incident_id, Channel.VOICE, to="+8613911110004", name="值班手机")
    await deliver_due(env.ctx, env.ctx.clock.now())
    call = fake.of("voice", "+8613911110004")[0]
    script = await env.twilio.fetch_script(call)
    answer = await env.twilio.press(call, await _gather_url(script.text), "1")
    assert answer.status_code == 200 and "已确认接警" in answer.text
    incident = await _incident(env)
    assert incident.state == IncidentState.ACKNOWLEDGED.value
    timeline = await _timeline(env, incident_id)
    assert any(e.kind == "phone_accept" and e.data.get("via") == "keypad" for e in timeline)
    assert any(e.kind == "transition" and e.to_state == "acknowledged" for e in timeline)
    assert "notification.accept" in await _audit_actions(env)


async def test_a_contact_pressing_1_accepts_the_visit_and_2_passes_it_on(
    env: Harness, fake: TwilioFake
) -> None:
    hid, contacts = await seed_household(env.ctx, contacts=3)
    incident_id = await press_button(env.ctx, hid)
    first = await page(
        env.ctx, incident_id, Channel.VOICE, to="+8613911110005", contact_id=contacts[0], name="李明"
    )
    await deliver_due(env.ctx, env.ctx.clock.now())
    call = fake.of("voice", "+8613911110005")[0]
    script = await env.twilio.fetch_script(call)
    declined = await env.twilio.press(call, await _gather_url(script.text), "2")
    assert "已转给下一位联系人" in declined.text
    assert (await _incident(env)).state == IncidentState.OPEN.value
    await deliver_due(env.ctx, env.ctx.clock.now())
    passed = [r for r in await rows(env.ctx, incident_id) if r.step == f"fallback:{first}"]
    assert len(passed) == 1 and passed[0].contact_id == contacts[1]
    second_call = fake.of("voice", passed[0].to_address)[0]
    script = await env.twilio.fetch_script(second_call)
    accepted = await env.twilio.press(second_call, await _gather_url(script.text), "1")
    assert "上门" in accepted.text
    incident = await _incident(env)
    assert incident.state == IncidentState.DISPATCHED.value
    assert incident.responder_contact_id == contacts[1]
    actions = await _audit_actions(env)
    assert "notification.decline" in actions and "notification.accept" in actions
    # An invalid key repeats the question and changes nothing.
    again = await env.twilio.press(second_call, await _gather_url(script.text), "7")
    assert "<Redirect" in again.text


@pytest.mark.parametrize("reply", ["1", "收到", "OK", " ok。"])
async def test_an_sms_reply_acknowledges_the_incident(env: Harness, fake: TwilioFake, reply: str) -> None:
    incident_id, sms_id = await _duty_sms(env, fake)
    sms = fake.of("sms")[0]
    response = await env.twilio.sms_in(sms.to.replace("+86", ""), reply)
    assert response.status_code == 200
    assert "<Message>" in response.text and "已确认接警" in response.text
    assert (await _incident(env)).state == IncidentState.ACKNOWLEDGED.value
    kinds = [e.kind for e in await _timeline(env, incident_id)]
    assert "phone_accept" in kinds
    # The SMS no longer waits for a report: no fallback call once someone answered.
    assert (await row(env.ctx, sms_id)).next_attempt_at is None


async def test_a_contact_replying_1_to_a_visit_request_is_dispatched(env: Harness, fake: TwilioFake) -> None:
    hid, contacts = await seed_household(env.ctx)
    incident_id = await press_button(env.ctx, hid)
    await env.twilio.sms_in("+8613800000001", "1")  # not yet sent: an unknown number for now
    await deliver_due(env.ctx, env.ctx.clock.now())
    assert (await env.twilio.sms_in("+8613800000001", "收到")).status_code == 200
    assert (await _incident(env)).state == IncidentState.ACKNOWLEDGED.value
    await page(env.ctx, incident_id, Channel.SMS, to="+8613911110006", contact_id=contacts[0], name="李明")
    await deliver_due(env.ctx, env.ctx.clock.now())
    request = fake.of("sms", "+8613911110006")[0]
    assert "确认上门" in request.body
    answer = await env.twilio.sms_in("+8613911110006", "1")
    assert "上门处置" in answer.text
    incident = await _incident(env)
    assert incident.state == IncidentState.DISPATCHED.value and incident.responder_contact_id == contacts[0]


async def test_other_replies_are_kept_on_the_timeline_and_answered_with_help(
    env: Harness, fake: TwilioFake
) -> None:
    incident_id, _ = await _duty_sms(env, fake)
    response = await env.twilio.sms_in(fake.of("sms")[0].to, "我在外地，请找我弟弟")
    assert "回复1" in response.text
    assert (await _incident(env)).state == IncidentState.OPEN.value
    notes = [e.note for e in await _timeline(env, incident_id) if e.kind == "phone_reply"]
    assert notes and "我在外地" in notes[0]


async def test_a_reply_from_an_unknown_number_changes_nothing_and_is_audited(
    env: Harness, fake: TwilioFake
) -> None:
    incident_id, _ = await _duty_sms(env, fake)
    before = await _timeline(env, incident_id)
    response = await env.twilio.sms_in("+8613577778888", "1")
    assert response.status_code == 200 and "<Message>" not in response.text
    assert (await _incident(env)).state == IncidentState.OPEN.value
    assert len(await _timeline(env, incident_id)) == len(before)
    async with env.ctx.db() as session:
        record = await session.scalar(select(AuditRecord).where(AuditRecord.action == "sms.reply_unmatched"))
    assert record is not None and record.content["from"] == "+8613577778888"


async def test_callbacks_for_rows_that_do_not_exist_are_ignored(env: Harness) -> None:
    url = f"{PUBLIC_URL}/twilio/sms/status?n=99999&a=1"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "undelivered"}
    assert (await env.twilio.post(url, params)).status_code == 204
    bad = f"{PUBLIC_URL}/twilio/sms/status"
    assert (await env.twilio.post(bad, params)).status_code == 400
    assert await rows(env.ctx) == []


def test_deadline_is_within_the_60_s_promise() -> None:
    policy = DeliveryPolicy()
    assert policy.report_timeout(Channel.SMS) + timedelta(seconds=policy.ring_timeout_s) <= timedelta(
        seconds=60
    )
