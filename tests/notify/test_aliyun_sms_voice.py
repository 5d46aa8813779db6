"""Aliyun through its official SDKs against a local RPC server that checks the real signature."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from anju.domain import Channel, IncidentState, NotificationStatus
from anju.notify import deliver_due
from anju.notify.routing import PhoneRouter
from anju.store.models import Contact, Incident
from tests.support.aliyun import Both, both_providers
from tests.support.aliyun_fake import KEY_TEMPLATES, SHOW_NUMBER, SIGN_NAME, TEMPLATES, Fault
from tests.support.twilio_fake import page, press_button, row, rows, seed_household


@pytest.fixture
async def both(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Both]:
    async with both_providers(db_url, monkeypatch) as running:
        yield running


async def _deliver(both: Both) -> None:
    await deliver_due(both.ctx, both.ctx.clock.now())


async def test_a_mainland_alert_goes_out_as_an_approved_template_with_its_parameters(both: Both) -> None:
    assert isinstance(both.ctx.notifier.phone, PhoneRouter)
    hid, _ = await seed_household(both.ctx)
    incident_id = await press_button(both.ctx, hid)
    await _deliver(both)
    [sms] = both.aliyun.of("sms")
    assert both.twilio.created == []
    assert sms.params["SignName"] == SIGN_NAME
    assert sms.template == TEMPLATES["sms_template_alert_zh"]
    assert sms.to == "13800000001"  # the duty phone, without +86
    variables = sms.variables
    assert variables["home"] == "王秀英家" and variables["what"] and variables["sev"]
    assert all(len(v) <= 35 for v in variables.values())
    [sent] = [r for r in await rows(both.ctx, incident_id) if r.channel == Channel.SMS.value]
    assert (sent.provider, sent.provider_id, sent.status) == ("aliyun", sms.provider_id, "queued")
    assert sms.out_id == f"n{sent.id}a1" and variables["ref"] == str(sent.id)
    assert both.aliyun.refused_signatures == 0


async def test_an_english_speaking_contact_gets_the_english_template_and_an_interactive_call(
    both: Both,
) -> None:
    hid, contact_ids = await seed_household(both.ctx, contacts=1, language="en-GB")
    incident_id = await press_button(both.ctx, hid)
    async with both.ctx.db() as session:
        contact = await session.get(Contact, contact_ids[0])
        assert contact is not None
        phone = contact.phone
    sms_id = await page(
        both.ctx, incident_id, Channel.SMS, to=phone, contact_id=contact_ids[0], language="en"
    )
    call_id = await page(
        both.ctx, incident_id, Channel.VOICE, to=phone, contact_id=contact_ids[0], language="en"
    )
    await _deliver(both)
    by_out = {r.out_id: r for r in both.aliyun.requests}
    sms, call = by_out[f"n{sms_id}a1"], by_out[f"n{call_id}a1"]
    assert sms.template == TEMPLATES["sms_template_alert_en"]
    assert call.action == "IvrCall" and call.template == TEMPLATES["voice_template_alert_en"]
    assert call.params["CalledShowNumber"] == SHOW_NUMBER
    keys = {call.params[f"MenuKeyMap.{i}.Key"]: call.params[f"MenuKeyMap.{i}.Code"] for i in (1, 2, 3)}
    assert keys == KEY_TEMPLATES
    assert (await row(both.ctx, call_id)).provider == "aliyun"


async def test_a_row_without_an_incident_is_a_notice_sms_and_a_plain_tts_call(both: Both) -> None:
    sms_id = await page(both.ctx, None, Channel.SMS, to="+8613900000009", body="网关离线，请检查")
    call_id = await page(both.ctx, None, Channel.VOICE, to="+8613900000009", body="网关离线，请检查")
    await _deliver(both)
    by_out = {r.out_id: r for r in both.aliyun.requests}
    assert by_out[f"n{sms_id}a1"].template == TEMPLATES["sms_template_notice_zh"]
    assert by_out[f"n{sms_id}a1"].variables == {"msg": "网关离线，请检查", "ref": str(sms_id)}
    tts = by_out[f"n{call_id}a1"]
    assert tts.action == "SingleCallByTts" and tts.template == TEMPLATES["voice_template_notice_zh"]


async def test_a_wrong_access_key_secret_is_refused_by_the_server_and_the_row_fails_over(both: Both) -> None:
    both.aliyun.secret = "not-the-configured-secret"
    row_id = await page(both.ctx, None, Channel.SMS, to="+8613900000010", body="测试")
    await _deliver(both)
    assert both.aliyun.refused_signatures == 1 and both.aliyun.requests == []
    failed = await row(both.ctx, row_id)
    assert failed.status == NotificationStatus.FAILED.value and failed.provider == "aliyun"
    assert "SignatureDoesNotMatch" in (failed.last_error or "")
    await _deliver(both)
    [copy] = both.twilio.of("sms", "+8613900000010")
    assert copy.body.startswith("测试")


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(code="isv.BUSINESS_LIMIT_CONTROL"), "isv.BUSINESS_LIMIT_CONTROL"),
        (Fault(code="Throttling.User", status=429), "Throttling.User"),
        (Fault(code="isv.MOBILE_NUMBER_ILLEGAL"), "isv.MOBILE_NUMBER_ILLEGAL"),
        (Fault(code="InternalError", status=500), "InternalError"),
    ],
)
async def test_throttling_refusals_and_server_errors_fail_over_to_twilio_at_once(
    both: Both, fault: Fault, code: str
) -> None:
    hid, _ = await seed_household(both.ctx)
    incident_id = await press_button(both.ctx, hid)
    both.aliyun.faults.append(fault)
    await _deliver(both)  # Aliyun refuses: the row fails, its failover is written
    await _deliver(both)  # the failover goes out through Twilio
    sms_rows = [r for r in await rows(both.ctx, incident_id) if r.channel == Channel.SMS.value]
    assert [(r.provider, r.status) for r in sms_rows] == [("aliyun", "failed"), ("twilio", "queued")]
    assert code in (sms_rows[0].last_error or "")
    assert sms_rows[1].step == f"failover:{sms_rows[0].id}"
    [twilio_sms] = both.twilio.of("sms")
    assert twilio_sms.to == "+8613800000001" and f"#{sms_rows[1].id}" in twilio_sms.body
    kinds = [e.kind for e in await both.timeline(incident_id)]
    assert "notification_failover" in kinds
    failover = next(e for e in await both.timeline(incident_id) if e.kind == "notification_failover")
    assert failover.data["from_provider"] == "aliyun" and failover.data["to_provider"] == "twilio"
    assert "notification.failover" in await both.audit_actions()
    async with both.ctx.db() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None and incident.state == IncidentState.OPEN.value
