"""From a real button press to a phone answer: Mosquitto → runtime → outbox → Twilio → reply.

A paho client publishes the kit's button press to the real Mosquitto; the live runtime
(``anju.runtime.Service``) stores it, opens the incident and fires the shipped escalation policy
(``rules/escalation.toml``: the duty phone by SMS at once, the supervisor by voice after 60 s, the
contacts after 180 s); its outbox worker sends through the real twilio SDK to the local fake (or to
Prism), and Twilio's side of the webhooks is played, signed, against Anju's app. The clock is
simulated so that "60 s later" costs no real minute; everything else runs as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from anju.audit import verify_chain
from anju.clock import RealClock, SimClock
from anju.context import Context
from anju.dispatch.escalation import run_due_escalations
from anju.dispatch.policy import current_policies
from anju.dispatch.service import transition
from anju.domain import DeviceKind, IncidentState, NotificationStatus
from anju.notify import DeliveryPolicy
from anju.runtime import MqttTarget, Service
from anju.store.db import transaction
from anju.store.models import AuditRecord, Contact, Incident, IncidentEvent, Notification
from tests.support.ingest import Publisher, eventually, kit_payload, register, uid
from tests.support.prism import Prism
from tests.support.settings import make_settings
from tests.support.twilio_fake import (
    Created,
    Harness,
    TwilioFake,
    harness,
    seed_household,
    twilio_settings,
    unique_phone,
)

POLICIES = current_policies()
DUTY_PHONE = POLICIES.oncall.duty_phone
SUPERVISOR_PHONE = POLICIES.oncall.supervisor_phone


@dataclass
class Live:
    """The running service, its Twilio (fake or Prism), a registered home with a button, a publisher."""

    env: Harness
    service: Service
    clock: SimClock
    publisher: Publisher
    household_id: str
    button: str
    contacts: list[Contact]
    fake: TwilioFake | None = None
    seq: int = 0

    @property
    def ctx(self) -> Context:
        return self.env.ctx

    async def press(self) -> int:
        """Publish a button press as the kit does (QoS 1) and wait for the incident it opens."""
        self.seq += 1
        payload = kit_payload(self.seq, self.clock.now(), type="button", event="press")
        await self.publisher.publish(f"anju/v1/{self.button}/event", payload)

        async def opened() -> int | None:
            async with self.ctx.db() as session:
                return await session.scalar(
                    select(Incident.id).where(
                        Incident.household_id == self.household_id,
                        Incident.state == IncidentState.OPEN.value,
                    )
                )

        incident_id: int = await eventually(opened, within_s=10.0, interval=0.02)
        return incident_id

    async def advance(self, seconds: float) -> None:
        """Let simulated time pass; the runtime's loops notice on their next real-time tick."""
        self.clock.advance(seconds)

    async def incident(self, incident_id: int) -> Incident:
        async with self.ctx.db() as session:
            found = await session.get(Incident, incident_id)
            assert found is not None
            return found

    async def timeline(self, incident_id: int) -> list[str]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(IncidentEvent.kind)
                    .where(IncidentEvent.incident_id == incident_id)
                    .order_by(IncidentEvent.id)
                )
            )

    async def audit_actions(self, incident_id: int) -> list[str]:
        async with self.ctx.db() as session:
            records = list(await session.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        return [
            r.action
            for r in records
            if (r.entity == "incident" and r.entity_id == str(incident_id))
            or r.content.get("incident_id") == incident_id
        ]

    async def notifications(self, incident_id: int) -> list[Notification]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(Notification)
                    .where(Notification.incident_id == incident_id)
                    .order_by(Notification.id)
                )
            )

    async def next_request(self, within_s: float = 10.0) -> Created:
        assert self.fake is not None
        return await self.fake.next_created(within_s=within_s)


@pytest.fixture
async def mosquitto(mqtt_url: str) -> AsyncIterator[Publisher]:
    publisher = Publisher(mqtt_url)
    try:
        yield publisher
    finally:
        publisher.close()


@contextlib.asynccontextmanager
async def _live(
    db_url: str, mqtt_url: str, publisher: Publisher, api_base: str, fake: TwilioFake | None
) -> AsyncIterator[Live]:
    clock = SimClock(RealClock().now().replace(microsecond=0))
    settings = make_settings(
        db_url,
        mqtt_url=mqtt_url,
        mqtt_session_expiry_s=60,
        ingest_batch_wait_ms=10,
        **twilio_settings(api_base),
    )
    async with harness(settings, clock=clock, policy=DeliveryPolicy(backoff_base_s=0.1)) as env:
        hid, contact_ids = await seed_household(env.ctx, contacts=2)
        button = f"btn-{uid()}"
        await register(env.ctx.db, hid, [(button, DeviceKind.BUTTON)])
        async with env.ctx.db() as session:
            contacts = [c for c in [await session.get(Contact, i) for i in contact_ids] if c is not None]
        service = Service(
            env.ctx, MqttTarget(url=mqtt_url, client_id=f"test-notify-{uid()}"), serve_http=False
        )
        try:
            await service.start()
            assert service.ingestor is not None
            await asyncio.wait_for(service.ingestor.connected.wait(), 10)
            yield Live(env, service, clock, publisher, hid, button, contacts, fake)
        finally:
            await service.stop()


@pytest.fixture
async def live(db_url: str, mqtt_url: str, mosquitto: Publisher) -> AsyncIterator[Live]:
    fake = await TwilioFake().start()
    try:
        async with _live(db_url, mqtt_url, mosquitto, fake.url, fake) as running:
            yield running
    finally:
        await fake.stop()


async def _duty_sms(live: Live, incident_id: int) -> Created:
    """The first page of the critical policy: an SMS to the duty phone naming the incident."""
    sms = await live.next_request()
    assert sms.kind == "sms" and sms.to == DUTY_PHONE
    assert f"事件#{incident_id}" in sms.body and "回复1" in sms.body
    return sms


async def test_an_sms_reply_1_收到_or_ok_to_a_button_press_sent_over_mqtt_acknowledges_and_stops_escalation(
    live: Live,
) -> None:
    # Three presses in turn (one per new incident); each reply answers the latest page to that phone.
    for word in ("1", "收到", "OK"):
        incident_id = await live.press()
        sms = await _duty_sms(live, incident_id)
        # The request reached Twilio; the worker records its answer just after.
        rows = await _twilio_rows(live, incident_id, 1, all_rows=True)
        assert [(r.channel, r.status) for r in rows] == [
            ("console", NotificationStatus.DELIVERED.value),
            ("sms", NotificationStatus.QUEUED.value),
        ]
        assert rows[1].provider == "twilio" and rows[1].provider_id == sms.sid
        assert (await live.env.twilio.report(sms, "delivered")).status_code == 204

        unsigned = await live.env.twilio.sms_in(DUTY_PHONE, word, signed=False)
        assert unsigned.status_code == 403
        assert (await live.incident(incident_id)).state == IncidentState.OPEN.value

        reply = await live.env.twilio.sms_in(DUTY_PHONE, word)
        assert reply.status_code == 200 and "已确认接警" in reply.text

        incident = await live.incident(incident_id)
        assert incident.state == IncidentState.ACKNOWLEDGED.value
        assert incident.acknowledged_at is not None and incident.next_escalation_at is None
        timeline = await live.timeline(incident_id)
        assert "phone_accept" in timeline and timeline[-1] == "transition"
        actions = await live.audit_actions(incident_id)
        assert "notification.accept" in actions and actions[-1] == "incident.transition"

        # The supervisor's call (60 s), the contacts' calls (180 s) and the repeat (300 s) never come.
        await live.advance(400)
        assert await run_due_escalations(live.ctx, live.clock.now()) == 0
        await asyncio.sleep(1.5)  # past the runtime's own escalation tick
        assert len(await live.notifications(incident_id)) == 2
        assert live.fake is not None and live.fake.arrivals.empty()

        # The incident is closed so that the next press opens a new one.
        await _close(live, incident_id)
    async with live.ctx.db() as session:
        _count, broken, _head = await verify_chain(session)
    assert broken is None


async def _close(live: Live, incident_id: int) -> None:
    async with transaction(live.ctx.db) as session:
        for to, outcome in ((IncidentState.RESOLVED, "false_alarm"), (IncidentState.CLOSED, None)):
            await transition(
                session,
                incident_id,
                to=to,
                actor="test",
                now=live.clock.now(),
                note="test",
                outcome=outcome,
            )


async def test_an_sms_from_an_unknown_number_changes_nothing_and_is_logged(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    incident_id = await live.press()
    sms = await _duty_sms(live, incident_id)
    await live.env.twilio.report(sms, "delivered")
    stranger = unique_phone()
    with caplog.at_level(logging.WARNING, logger="anju.notify"):
        reply = await live.env.twilio.sms_in(stranger, "1")
    assert reply.status_code == 200 and "<Message>" not in reply.text  # nothing said to a stranger
    assert any("unknown number" in r.getMessage() for r in caplog.records)
    assert stranger not in caplog.text  # masked in the log
    assert (await live.incident(incident_id)).state == IncidentState.OPEN.value
    assert "phone_accept" not in await live.timeline(incident_id)
    async with live.ctx.db() as session:
        unmatched = list(
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "sms.reply_unmatched"))
        )
    assert [r.content["from"] for r in unmatched] == [stranger]
    # Escalation carries on as if nothing came in: the supervisor is called at 60 s.
    await live.advance(61)
    call = await live.next_request()
    assert call.kind == "voice" and call.to == SUPERVISOR_PHONE


async def test_keypad_2_on_the_supervisor_call_pages_the_next_contact_whose_1_accepts_the_visit(
    live: Live,
) -> None:
    incident_id = await live.press()
    sms = await _duty_sms(live, incident_id)
    await live.env.twilio.report(sms, "delivered")

    # Nobody answered the SMS: 60 s later the policy calls the on-call supervisor.
    await live.advance(61)
    call = await live.next_request()
    assert call.kind == "voice" and call.to == SUPERVISOR_PHONE
    script = await live.env.twilio.fetch_script(call)
    assert script.status_code == 200 and '<Say language="zh-CN"' in script.text
    gather = re.search(r'<Gather action="([^"]+)"', script.text)
    assert gather is not None

    declined = await live.env.twilio.press(call, gather.group(1), "2")
    assert "已转给下一位联系人" in declined.text
    assert (await live.incident(incident_id)).state == IncidentState.OPEN.value

    first = live.contacts[0]
    nxt = await live.next_request()
    assert nxt.kind == "voice" and nxt.to == first.phone
    script = await live.env.twilio.fetch_script(nxt)
    gather = re.search(r'<Gather action="([^"]+)"', script.text)
    assert gather is not None
    accepted = await live.env.twilio.press(nxt, gather.group(1), "1")
    assert "上门处置" in accepted.text

    incident = await live.incident(incident_id)
    assert incident.state == IncidentState.DISPATCHED.value
    assert incident.acknowledged_at is not None and incident.responder_contact_id == first.id
    timeline = await live.timeline(incident_id)
    for kind in ("phone_decline", "notification_fallback", "phone_accept"):
        assert kind in timeline
    actions = await live.audit_actions(incident_id)
    assert {"notification.decline", "notification.fallback", "notification.accept"} <= set(actions)
    assert actions.count("incident.transition") == 2  # acknowledged, then dispatched

    # The responder gets the address in writing; nobody else is paged any more.
    followup = await live.next_request()
    assert followup.kind == "sms" and followup.to == first.phone and "上门" in followup.body
    await live.advance(400)
    assert await run_due_escalations(live.ctx, live.clock.now()) == 0
    await asyncio.sleep(1.5)
    assert live.fake is not None and live.fake.arrivals.empty()
    calls = [r for r in await live.notifications(incident_id) if r.channel == "voice"]
    assert [r.to_address for r in calls] == [SUPERVISOR_PHONE, first.phone]
    assert all(r.status == NotificationStatus.ANSWERED.value for r in calls)


async def test_keypad_1_on_the_supervisor_call_acknowledges(live: Live) -> None:
    incident_id = await live.press()
    await live.env.twilio.report(await _duty_sms(live, incident_id), "delivered")
    await live.advance(61)
    call = await live.next_request()
    assert call.to == SUPERVISOR_PHONE
    script = await live.env.twilio.fetch_script(call)
    gather = re.search(r'<Gather action="([^"]+)"', script.text)
    assert gather is not None
    answer = await live.env.twilio.press(call, gather.group(1), "1")
    assert "已确认接警" in answer.text
    incident = await live.incident(incident_id)
    assert incident.state == IncidentState.ACKNOWLEDGED.value
    assert "phone_accept" in await live.timeline(incident_id)
    await live.advance(400)
    assert await run_due_escalations(live.ctx, live.clock.now()) == 0


@pytest.fixture
async def live_prism(pg_url: str, mqtt_url: str, mosquitto: Publisher, prism: Prism) -> AsyncIterator[Live]:
    async with _live(pg_url, mqtt_url, mosquitto, prism.url, None) as running:
        yield running


async def _twilio_rows(live: Live, incident_id: int, n: int, *, all_rows: bool = False) -> list[Notification]:
    """Wait until ``n`` SMS/voice rows of the incident have left the outbox; those (or all) rows."""

    async def sent() -> list[Notification]:
        every = await live.notifications(incident_id)
        found = [r for r in every if r.channel in ("sms", "voice")]
        done = [r for r in found if r.status not in ("pending", "sending")]
        ok = len(found) == n and len(done) == n
        if all_rows:  # the console rows are recorded concurrently with the SMS: wait for them too
            ok = ok and all(r.status not in ("pending", "sending") for r in every)
        return (every if all_rows else found) if ok else []

    rows: list[Notification] = await eventually(sent, within_s=10.0)
    return rows


async def test_every_request_of_the_whole_path_passes_twilios_api_description(
    live_prism: Live, prism: Prism
) -> None:
    live = live_prism
    before = prism.passed()
    incident_id = await live.press()
    (sms,) = await _twilio_rows(live, incident_id, 1)
    assert sms.status == NotificationStatus.QUEUED.value, sms.last_error
    await live.env.twilio.post(
        f"http://anju.test/twilio/sms/status?n={sms.id}&a=1",
        {"MessageSid": str(sms.provider_id), "MessageStatus": "delivered"},
    )
    await live.advance(61)  # nobody answered: the supervisor is called
    _, call = await _twilio_rows(live, incident_id, 2)
    assert call.status == NotificationStatus.QUEUED.value, call.last_error
    record = Created(
        kind="voice",
        sid=str(call.provider_id),
        to=call.to_address,
        from_="",
        body="",
        status_callback="",
        url=f"http://anju.test/twilio/voice/{call.id}/twiml",
        arrived=0.0,
        date_created=live.clock.now(),
    )
    script = await live.env.twilio.fetch_script(record)
    gather = re.search(r'<Gather action="([^"]+)"', script.text)
    assert gather is not None
    await live.env.twilio.press(record, gather.group(1), "2")  # next contact: a call
    rows = await _twilio_rows(live, incident_id, 3)
    contact_call = rows[2]
    record.url = f"http://anju.test/twilio/voice/{contact_call.id}/twiml"
    script = await live.env.twilio.fetch_script(record)
    gather = re.search(r'<Gather action="([^"]+)"', script.text)
    assert gather is not None
    await live.env.twilio.press(record, gather.group(1), "1")  # dispatched: the responder's SMS
    rows = await _twilio_rows(live, incident_id, 4)
    assert (await live.incident(incident_id)).state == IncidentState.DISPATCHED.value
    assert [r.channel for r in rows] == ["sms", "voice", "voice", "sms"]
    for r in rows:
        assert r.provider == "twilio" and r.provider_id, r.last_error
    assert prism.refused() == []
    assert prism.passed() - before == 4
    async with live.ctx.db() as session:
        total = await session.scalar(select(func.count()).select_from(Notification))
    assert total == 5  # the four above and the console row
