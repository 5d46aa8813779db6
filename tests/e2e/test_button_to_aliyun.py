"""From a real button press over Mosquitto to an Aliyun SMS and an interactive call answered with 1."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from anju.clock import RealClock, SimClock
from anju.dispatch.policy import current_policies
from anju.domain import DeviceKind, IncidentState, NotificationStatus
from anju.notify import DeliveryPolicy
from anju.runtime import MqttTarget, Service
from anju.store.models import Incident, IncidentEvent, Notification
from tests.support.aliyun import both_providers
from tests.support.aliyun_fake import Request
from tests.support.ingest import Publisher, eventually, kit_payload, register, uid
from tests.support.twilio_fake import seed_household

POLICIES = current_policies()


async def test_a_button_press_over_mqtt_pages_through_aliyun_and_a_key_1_on_the_call_acknowledges(
    db_url: str, mqtt_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimClock(RealClock().now().replace(microsecond=0))
    publisher = Publisher(mqtt_url)
    try:
        async with both_providers(
            db_url,
            monkeypatch,
            clock=clock,
            policy=DeliveryPolicy(backoff_base_s=0.1),
            mqtt_url=mqtt_url,
            mqtt_session_expiry_s=60,
            ingest_batch_wait_ms=10,
        ) as both:
            ctx = both.ctx
            hid, _ = await seed_household(ctx, contacts=2)
            button = f"btn-{uid()}"
            await register(ctx.db, hid, [(button, DeviceKind.BUTTON)])
            service = Service(
                ctx, MqttTarget(url=mqtt_url, client_id=f"test-aliyun-{uid()}"), serve_http=False
            )
            await service.start()
            try:
                assert service.ingestor is not None
                await asyncio.wait_for(service.ingestor.connected.wait(), 10)
                await publisher.publish(
                    f"anju/v1/{button}/event", kit_payload(1, clock.now(), type="button", event="press")
                )

                async def opened() -> int | None:
                    async with ctx.db() as session:
                        return await session.scalar(
                            select(Incident.id).where(
                                Incident.household_id == hid, Incident.state == IncidentState.OPEN.value
                            )
                        )

                incident_id: int = await eventually(opened, within_s=10.0, interval=0.02)
                sms: Request = await both.aliyun.next_request()
                assert sms.action == "SendSms" and sms.to == POLICIES.oncall.duty_phone.removeprefix("+86")
                assert sms.variables["home"] == "王秀英家"
                assert (await both.pushes.sms_report(sms)).status_code == 200
                # Nobody answers the SMS: a minute later the supervisor is called, interactively.
                clock.advance(61)
                call: Request = await both.aliyun.next_request(within_s=15.0)
                assert call.action == "IvrCall"
                assert call.to == POLICIES.oncall.supervisor_phone.removeprefix("+86")
                assert (await both.pushes.press(call, "1")).status_code == 200
                incident = await _incident(ctx, incident_id)
                assert incident.state == IncidentState.ACKNOWLEDGED.value
                await both.pushes.voice_report(call, "200000")
                async with ctx.db() as session:
                    notes = list(
                        await session.scalars(
                            select(Notification)
                            .where(Notification.incident_id == incident_id)
                            .order_by(Notification.id)
                        )
                    )
                    kinds = list(
                        await session.scalars(
                            select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)
                        )
                    )
                by_out = {f"n{n.id}a{n.attempts}": n for n in notes}
                assert by_out[sms.out_id].status == NotificationStatus.DELIVERED.value
                assert by_out[call.out_id].status == NotificationStatus.ANSWERED.value
                assert {n.provider for n in notes if n.channel in ("sms", "voice")} == {"aliyun"}
                assert "phone_accept" in kinds and both.twilio.created == []
            finally:
                await service.stop()
    finally:
        publisher.close()


async def _incident(ctx: object, incident_id: int) -> Incident:
    async with ctx.db() as session:  # type: ignore[attr-defined]
        found = await session.get(Incident, incident_id)
        assert found is not None
        return found
