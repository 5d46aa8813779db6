"""The issue's line, measured: when a provider refuses, times out or fails delivery, the same
notification goes out through the other provider within 60 s, once.

Each case starts when dispatch writes the row and ends when the copy reaches the other provider's
(local) server. Waiting for reports runs on the simulated clock (one outbox pass per simulated
second, as the worker wakes at least that often); a send that hangs takes real time (Aliyun's
10 s client timeout, unchanged). The time counted is simulated plus real.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from anju.clock import SimClock
from anju.domain import Channel, NotificationStatus
from anju.notify import deliver_due
from anju.store.db import transaction
from anju.store.models import Contact, IncidentEvent, Notification
from tests.support.aliyun import Both, both_providers
from tests.support.aliyun_fake import Fault
from tests.support.twilio_fake import Fault as TwilioFault
from tests.support.twilio_fake import page, press_button, rows, seed_household

BUDGET_S = 60.0
FOREIGN = "+14155550123"


@pytest.fixture
async def both(db_url: str, monkeypatch: pytest.MonkeyPatch, sim_clock: SimClock) -> AsyncIterator[Both]:
    async with both_providers(db_url, monkeypatch, clock=sim_clock) as running:
        yield running


@dataclass(frozen=True)
class Case:
    """How the first provider fails one row; ``first`` is where it goes, the copy goes elsewhere."""

    first: str
    channel: Channel
    #: Arms the failure before the send (a refusal, a hang), or None.
    arm: Callable[[Both], None] | None = None
    #: After the first provider accepted: the report it pushes back (None: it stays silent).
    report: Callable[[Both, str], Awaitable[None]] | None = None
    #: Sends that never fail on their own: waiting for a report that never comes.
    silent: bool = False


async def _sms_undelivered(both: Both, to: str) -> None:
    [sent] = [r for r in both.aliyun.of("sms") if r.to == to.removeprefix("+86")]
    assert (await both.pushes.sms_report(sent, success=False, code="MK:0001")).status_code == 200


async def _call_not_answered(both: Both, to: str) -> None:
    [sent] = [r for r in both.aliyun.requests if r.kind == "voice" and r.to == to.removeprefix("+86")]
    assert (await both.pushes.voice_report(sent, status_code="200005")).status_code == 200


async def _twilio_undelivered(both: Both, to: str) -> None:
    [sent] = both.twilio.of("sms", to)
    assert (await both.env.twilio.report(sent, "undelivered", ErrorCode="30003")).status_code in (200, 204)


CASES = {
    "aliyun-refuses-sms": Case(
        "aliyun", Channel.SMS, arm=lambda b: b.aliyun.faults.append(Fault(code="isv.MOBILE_NUMBER_ILLEGAL"))
    ),
    "aliyun-refuses-call": Case(
        "aliyun", Channel.VOICE, arm=lambda b: b.aliyun.faults.append(Fault(code="InternalError", status=500))
    ),
    "aliyun-times-out": Case(
        "aliyun", Channel.SMS, arm=lambda b: b.aliyun.faults.append(Fault(code="OK", hang_s=12))
    ),
    "aliyun-sms-undelivered": Case("aliyun", Channel.SMS, report=_sms_undelivered),
    "aliyun-call-not-answered": Case("aliyun", Channel.VOICE, report=_call_not_answered),
    "aliyun-sms-no-report": Case("aliyun", Channel.SMS, silent=True),
    "aliyun-call-no-report": Case("aliyun", Channel.VOICE, silent=True),
    "twilio-refuses-sms": Case(
        "twilio", Channel.SMS, arm=lambda b: b.twilio.faults.append(TwilioFault(status=400, code=21211))
    ),
    "twilio-sms-undelivered": Case("twilio", Channel.SMS, report=_twilio_undelivered),
}


def _reached_elsewhere(both: Both, case: Case, to: str) -> bool:
    kind = "sms" if case.channel is Channel.SMS else "voice"
    if case.first == "aliyun":
        return bool(both.twilio.of(kind, to))
    return any(r.kind == kind and r.to == to.lstrip("+") and r.code == "OK" for r in both.aliyun.requests)


@pytest.mark.parametrize("name", list(CASES))
async def test_a_failed_send_goes_out_through_the_other_provider_within_60_s_once(
    both: Both, sim_clock: SimClock, name: str
) -> None:
    case = CASES[name]
    hid, contact_ids = await seed_household(both.ctx, contacts=1)
    incident_id = await press_button(both.ctx, hid)
    async with transaction(both.ctx.db) as session:
        # The opening's own rows are not this measurement: taken as delivered.
        await session.execute(update(Notification).values(status=NotificationStatus.DELIVERED.value))
        contact = await session.get(Contact, contact_ids[0])
        assert contact is not None
        to = contact.phone if case.first == "aliyun" else FOREIGN
    if case.arm is not None:
        case.arm(both)
    created = sim_clock.now()
    started = time.perf_counter()
    row_id = await page(both.ctx, incident_id, case.channel, to=to, contact_id=contact_ids[0])
    reported = False
    while not _reached_elsewhere(both, case, to):
        elapsed = (sim_clock.now() - created).total_seconds() + time.perf_counter() - started
        assert elapsed <= BUDGET_S, f"{name}: no failover after {elapsed:.1f} s"
        await deliver_due(both.ctx, sim_clock.now())
        first = next(r for r in await rows(both.ctx, incident_id) if r.id == row_id)
        if case.report is not None and not reported and first.status == NotificationStatus.QUEUED.value:
            sim_clock.advance(3)  # the receipt arrives a few seconds after the send was accepted
            await case.report(both, to)
            reported = True
            continue
        if not _reached_elsewhere(both, case, to):
            sim_clock.advance(1)
    elapsed = (sim_clock.now() - created).total_seconds() + time.perf_counter() - started
    assert elapsed <= BUDGET_S, f"{name}: failover after {elapsed:.1f} s"
    print(f"{name}: failover reached the other provider {elapsed:.1f} s after the row was written")

    # Once: one copy, pinned to the other provider, and one failover on the timeline.
    for _ in range(5):
        sim_clock.advance(1)
        await deliver_due(both.ctx, sim_clock.now())
    notes = await rows(both.ctx, incident_id)
    first = next(r for r in notes if r.id == row_id)
    copies = [r for r in notes if r.step == f"failover:{row_id}"]
    assert len(copies) == 1, [(r.id, r.step, r.provider) for r in notes]
    other = "twilio" if case.first == "aliyun" else "aliyun"
    assert (first.provider, copies[0].provider, copies[0].channel) == (case.first, other, case.channel.value)
    assert copies[0].status in (NotificationStatus.QUEUED.value, NotificationStatus.SENT.value)
    async with both.ctx.db() as session:
        kinds = list(
            await session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id))
        )
    assert kinds.count("notification_failover") == 1
    if case.silent:  # only the report deadline (30 s SMS, 45 s call) can have moved it
        assert "no delivery report by the deadline" in (first.last_error or "")
        assert elapsed >= both.ctx.delivery_policy.report_timeout(case.channel).total_seconds()
