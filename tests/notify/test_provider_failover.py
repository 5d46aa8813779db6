"""Routing per number, household and contact; failover each way within 60 s, once; down providers skipped."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from anju.clock import SimClock
from anju.domain import Channel, NotificationStatus
from anju.notify import deliver_due
from anju.notify.routing import PhoneRouter
from anju.store.db import transaction
from anju.store.models import Contact, Household
from tests.support.aliyun import Both, both_providers
from tests.support.aliyun_fake import Fault
from tests.support.twilio_fake import Fault as TwilioFault
from tests.support.twilio_fake import page, press_button, row, rows, seed_household


@pytest.fixture
async def both(db_url: str, monkeypatch: pytest.MonkeyPatch, sim_clock: SimClock) -> AsyncIterator[Both]:
    async with both_providers(db_url, monkeypatch, clock=sim_clock) as running:
        yield running


def _metric(both: Both, name: str, **labels: str) -> float:
    value = both.ctx.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


async def test_numbers_route_by_prefix_and_households_and_contacts_can_name_their_provider(
    both: Both,
) -> None:
    hid, contact_ids = await seed_household(both.ctx, contacts=2)
    incident_id = await press_button(both.ctx, hid)
    async with transaction(both.ctx.db) as session:
        first = await session.get(Contact, contact_ids[0])
        second = await session.get(Contact, contact_ids[1])
        assert first is not None and second is not None
        first.phone_provider = "twilio"  # a +86 number that must go through Twilio
        phones = (first.phone, second.phone)
    a = await page(both.ctx, incident_id, Channel.SMS, to=phones[0], contact_id=contact_ids[0])
    b = await page(both.ctx, incident_id, Channel.SMS, to=phones[1], contact_id=contact_ids[1])
    c = await page(both.ctx, None, Channel.SMS, to="+14155550100", body="hello")
    await deliver_due(both.ctx, both.ctx.clock.now())
    assert [(await row(both.ctx, i)).provider for i in (a, b, c)] == ["twilio", "aliyun", "twilio"]
    # The household's own choice applies to its contacts without one.
    async with transaction(both.ctx.db) as session:
        household = await session.get(Household, hid)
        assert household is not None
        household.phone_provider = "twilio"
    d = await page(both.ctx, incident_id, Channel.SMS, to=phones[1], contact_id=contact_ids[1])
    await deliver_due(both.ctx, both.ctx.clock.now())
    assert (await row(both.ctx, d)).provider == "twilio"


async def test_a_twilio_refusal_for_a_foreign_number_goes_out_through_aliyun_within_60_s(both: Both) -> None:
    both.twilio.faults.append(TwilioFault(status=400, code=21211))
    row_id = await page(both.ctx, None, Channel.SMS, to="+14155550101", body="check on Mrs Wang")
    started = time.perf_counter()
    await deliver_due(both.ctx, both.ctx.clock.now())
    await deliver_due(both.ctx, both.ctx.clock.now())
    assert time.perf_counter() - started < 60
    first = await row(both.ctx, row_id)
    assert (first.provider, first.status) == ("twilio", NotificationStatus.FAILED.value)
    [copy] = [r for r in await rows(both.ctx) if r.step == f"failover:{row_id}"]
    assert (copy.provider, copy.status) == ("aliyun", NotificationStatus.QUEUED.value)
    [sent] = both.aliyun.of("sms")
    assert sent.to == "14155550101" and sent.variables["msg"] == "check on Mrs Wang"
    assert _metric(
        both, "anju_notify_failovers_total", from_provider="twilio", to_provider="aliyun", channel="sms"
    )


async def test_an_aliyun_timeout_fails_over_once_and_a_failing_failover_falls_back_as_before(
    both: Both,
) -> None:
    hid, _ = await seed_household(both.ctx)
    incident_id = await press_button(both.ctx, hid)
    assert isinstance(both.ctx.notifier.phone, PhoneRouter)
    aliyun = both.ctx.notifier.phone.providers["aliyun"]
    aliyun._timeout_s = 0.5  # type: ignore[attr-defined]
    both.aliyun.faults.append(Fault(code="OK", hang_s=2.0))
    # Twilio refuses the failover outright (a 5xx would be retried there: it has nowhere else to go).
    both.twilio.faults.append(TwilioFault(status=400, code=21211))
    for _ in range(3):
        await deliver_due(both.ctx, both.ctx.clock.now())
    notes = await rows(both.ctx, incident_id)
    sms = [r for r in notes if r.channel == Channel.SMS.value]
    assert [(r.provider, r.status) for r in sms] == [("aliyun", "failed"), ("twilio", "failed")]
    assert "timeout" in (sms[0].last_error or "") or "in time" in (sms[0].last_error or "")
    # The failover is not failed over again: the usual fallback (a call to the same phone) follows.
    assert [r.step for r in notes if r.channel == Channel.VOICE.value] == [f"fallback:{sms[1].id}"]
    kinds = [e.kind for e in await both.timeline(incident_id)]
    assert kinds.count("notification_failover") == 1 and "notification_fallback" in kinds


async def test_a_provider_that_keeps_failing_is_skipped_until_it_recovers(both: Both) -> None:
    router = both.ctx.notifier.phone
    assert isinstance(router, PhoneRouter)
    both.aliyun.faults.extend([Fault(code="InternalError", status=500)] * 2)
    for n in range(2):
        await page(both.ctx, None, Channel.SMS, to=f"+861390000002{n}", body=f"第{n}条")
        await deliver_due(both.ctx, both.ctx.clock.now())
    assert router.is_down("aliyun")
    assert _metric(both, "anju_notify_provider_up", provider="aliyun") == 0
    # While down, +86 numbers go straight to Twilio: no refusal, no failover row.
    skipped = await page(both.ctx, None, Channel.SMS, to="+8613900000030", body="跳过")
    await deliver_due(both.ctx, both.ctx.clock.now())
    assert (await row(both.ctx, skipped)).provider == "twilio"
    assert len(both.aliyun.requests) == 2
    # After the down period the next message tries Aliyun again; one success brings it back.
    assert isinstance(both.ctx.clock, SimClock)
    both.ctx.clock.advance(61)
    back = await page(both.ctx, None, Channel.SMS, to="+8613900000031", body="恢复")
    await deliver_due(both.ctx, both.ctx.clock.now())
    assert (await row(both.ctx, back)).provider == "aliyun"
    assert not router.is_down("aliyun")
    assert _metric(both, "anju_notify_provider_up", provider="aliyun") == 1
    assert (
        _metric(both, "anju_notify_provider_sends_total", provider="aliyun", channel="sms", outcome="failed")
        == 2
    )
