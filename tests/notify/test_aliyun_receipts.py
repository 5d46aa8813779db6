"""Aliyun's receipt pushes posted back to Anju: delivery, call results, keys pressed, SMS replies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from anju.domain import Channel, IncidentState, NotificationStatus
from anju.notify import deliver_due
from anju.store.models import Contact, Incident
from tests.support.aliyun import Both, both_providers
from tests.support.aliyun_fake import Request
from tests.support.twilio_fake import page, press_button, row, rows, seed_household


@pytest.fixture
async def both(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Both]:
    async with both_providers(db_url, monkeypatch) as running:
        yield running


async def _incident(both: Both, incident_id: int) -> Incident:
    async with both.ctx.db() as session:
        found = await session.get(Incident, incident_id)
        assert found is not None
        return found


async def _alert(both: Both) -> tuple[int, int, Request]:
    """A button press whose duty SMS went out through Aliyun: (incident, row, request)."""
    hid, _ = await seed_household(both.ctx)
    incident_id = await press_button(both.ctx, hid)
    await deliver_due(both.ctx, both.ctx.clock.now())
    [sms_row] = [r for r in await rows(both.ctx, incident_id) if r.channel == Channel.SMS.value]
    [request] = both.aliyun.of("sms")
    return incident_id, sms_row.id, request


async def test_a_push_with_a_wrong_or_missing_token_is_refused_and_changes_nothing(both: Both) -> None:
    _, row_id, sent = await _alert(both)
    response = await both.pushes.push("SmsReport", [{"out_id": sent.out_id, "success": True}], token="guess")
    assert response.status_code == 403
    assert (await row(both.ctx, row_id)).status == NotificationStatus.QUEUED.value
    assert (await both.env.client.post("/aliyun/x/SmsReport", content=b"not json")).status_code == 403


async def test_an_sms_report_marks_the_row_delivered_and_a_failed_one_fails_over(both: Both) -> None:
    incident_id, row_id, sent = await _alert(both)
    answer = await both.pushes.sms_report(sent)
    assert answer.status_code == 200 and answer.json()["code"] == 0
    delivered = await row(both.ctx, row_id)
    assert (
        delivered.status == NotificationStatus.DELIVERED.value and delivered.provider_id == sent.provider_id
    )
    # A second alert whose SMS the carrier could not deliver: the same SMS goes out through Twilio.
    incident_b, row_b, sent_b = await _alert_again(both)
    await both.pushes.sms_report(sent_b, success=False, code="MK:0001")
    failed = await row(both.ctx, row_b)
    assert failed.status == NotificationStatus.UNDELIVERED.value and "MK:0001" in (failed.last_error or "")
    await deliver_due(both.ctx, both.ctx.clock.now())
    copies = [r for r in await rows(both.ctx, incident_b) if r.step == f"failover:{row_b}"]
    assert [(c.channel, c.provider, c.status) for c in copies] == [("sms", "twilio", "queued")]
    assert [c.to for c in both.twilio.of("sms")] == ["+8613800000001"]
    assert incident_id != incident_b


async def _alert_again(both: Both) -> tuple[int, int, Request]:
    before = len(both.aliyun.of("sms"))
    hid, _ = await seed_household(both.ctx)
    incident_id = await press_button(both.ctx, hid)
    await deliver_due(both.ctx, both.ctx.clock.now())
    [sms_row] = [r for r in await rows(both.ctx, incident_id) if r.channel == Channel.SMS.value]
    return incident_id, sms_row.id, both.aliyun.of("sms")[before]


async def test_an_sms_reply_1_through_smsup_acknowledges_the_incident(both: Both) -> None:
    incident_id, _, sent = await _alert(both)
    assert (await both.pushes.sms_up("+86" + sent.to, "收到")).status_code == 200
    assert (await _incident(both, incident_id)).state == IncidentState.ACKNOWLEDGED.value
    assert "phone_accept" in [e.kind for e in await both.timeline(incident_id)]
    # A stranger's SMS changes nothing and is on the audit trail.
    await both.pushes.sms_up("13911112222", "1")
    assert "sms.reply_unmatched" in await both.audit_actions()


async def _call(both: Both) -> tuple[int, int, Request, list[int]]:
    hid, contact_ids = await seed_household(both.ctx, contacts=2)
    incident_id = await press_button(both.ctx, hid)
    async with both.ctx.db() as session:
        contact = await session.get(Contact, contact_ids[0])
        assert contact is not None
        phone = contact.phone
    call_id = await page(both.ctx, incident_id, Channel.VOICE, to=phone, contact_id=contact_ids[0])
    await deliver_due(both.ctx, both.ctx.clock.now())
    [request] = [r for r in both.aliyun.requests if r.out_id == f"n{call_id}a1"]
    assert request.action == "IvrCall"
    return incident_id, call_id, request, contact_ids


async def test_pressing_1_in_an_interactive_call_acknowledges_and_the_call_report_closes_the_row(
    both: Both,
) -> None:
    incident_id, call_id, request, _ = await _call(both)
    assert (await both.pushes.press(request, "1")).status_code == 200
    assert (await _incident(both, incident_id)).state in (
        IncidentState.ACKNOWLEDGED.value,
        IncidentState.DISPATCHED.value,
    )
    assert (await row(both.ctx, call_id)).status == NotificationStatus.ANSWERED.value
    assert (await both.pushes.voice_report(request, "200000")).status_code == 200
    assert (await row(both.ctx, call_id)).status == NotificationStatus.ANSWERED.value


async def test_pressing_2_passes_it_on_and_9_asks_for_help_paging_the_next_contact(both: Both) -> None:
    incident_id, call_id, request, contact_ids = await _call(both)
    await both.pushes.press(request, "9")
    incident = await _incident(both, incident_id)
    assert incident.state == IncidentState.OPEN.value
    kinds = [e.kind for e in await both.timeline(incident_id)]
    assert "phone_help" in kinds and "notification_fallback" in kinds
    assert "notification.help" in await both.audit_actions()
    nxt = [r for r in await rows(both.ctx, incident_id) if r.step == f"fallback:{call_id}"]
    assert [r.contact_id for r in nxt] == [contact_ids[1]]
    # 2 on another call: declined, passed on (once: the fallback of this row exists already).
    await both.pushes.press(request, "2")
    assert "phone_decline" in [e.kind for e in await both.timeline(incident_id)]
    assert len([r for r in await rows(both.ctx, incident_id) if r.step == f"fallback:{call_id}"]) == 1


async def test_an_unanswered_call_report_fails_over_to_the_other_provider(both: Both) -> None:
    incident_id, call_id, request, _ = await _call(both)
    await both.pushes.voice_report(request, "200005")
    assert (await row(both.ctx, call_id)).status == NotificationStatus.NO_ANSWER.value
    await deliver_due(both.ctx, both.ctx.clock.now())
    [copy] = [r for r in await rows(both.ctx, incident_id) if r.step == f"failover:{call_id}"]
    assert (copy.channel, copy.provider) == ("voice", "twilio")
    assert len(both.twilio.of("voice")) == 1


async def test_a_hostile_push_with_the_right_token_is_a_400_and_changes_nothing(both: Both) -> None:
    _, row_id, _sent = await _alert(both)
    url = f"/aliyun/{both.pushes.token}/SmsReport"
    for body in (b"not json", b"[" * 5000 + b"]" * 5000, b"[" + b'{"x":1},' * 200_000 + b"{}]"):
        response = await both.env.client.post(url, content=body)
        assert response.status_code == 400, (len(body), response.text[:200])
    assert (await both.pushes.push("SmsReport", [{"out_id": "n1a1"}, 7, "x", None])).status_code == 200
    assert (await row(both.ctx, row_id)).status == NotificationStatus.QUEUED.value


async def test_a_failed_receipt_with_hostile_error_text_is_stored_escaped_and_still_fails_over(
    both: Both,
) -> None:
    _, row_id, sent = await _alert(both)
    answer = await both.pushes.sms_report(sent, success=False, code="MK\x00" + "x" * 500)
    assert answer.status_code == 200
    failed = await row(both.ctx, row_id)
    assert failed.status == NotificationStatus.UNDELIVERED.value
    assert "\x00" not in (failed.last_error or "") and len(failed.last_error or "") < 300
