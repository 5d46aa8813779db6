"""A check-in end to end through Aliyun: Mosquitto → runtime → an IVR call (official SDK, local fake) → key 1.

The live service runs rules/checkin.toml. Motion published over the real broker until 10:00; at
13:00 the engine asks instead of paging: the outbox places an interactive call to the resident's
mainland number through the dyvmsapi SDK; Aliyun's VoiceCallReport push carries the key 1 back,
the answer is stored as a ``checkin ok`` event the engine reads, and nobody is paged.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.domain import DeviceKind
from anju.notify import DeliveryPolicy
from anju.runtime import MqttTarget, Service
from anju.store.db import transaction
from anju.store.models import Checkin, Incident, Resident, SensorEvent
from tests.support.aliyun import both_providers
from tests.support.aliyun_checkin import CHECKIN_ENV
from tests.support.aliyun_fake import Request
from tests.support.ingest import Publisher, eventually, kit_payload, register, uid

SH = ZoneInfo("Asia/Shanghai")


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 3, 1, hh, mm, ss, tzinfo=SH)


async def test_a_silence_over_mqtt_asks_the_resident_through_aliyun_and_key_1_pages_nobody(
    db_url: str, mqtt_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimClock(at(9, 30))
    publisher = Publisher(mqtt_url)
    try:
        async with both_providers(
            db_url,
            monkeypatch,
            clock=clock,
            policy=DeliveryPolicy(backoff_base_s=0.1),
            env=CHECKIN_ENV,
            mqtt_url=mqtt_url,
            mqtt_session_expiry_s=60,
            ingest_batch_wait_ms=10,
        ) as both:
            ctx = both.ctx
            hid, pir = f"h-{uid()}", f"pir-{uid()}"
            phone = "+86137" + str(uuid.uuid4().int)[:8]
            await register(ctx.db, hid, [(pir, DeviceKind.PIR, "")])
            async with transaction(ctx.db) as session:
                session.add(Resident(household_id=hid, name="王秀英", phone=phone, language="zh-CN"))
            service = Service(
                ctx,
                MqttTarget(url=mqtt_url, client_id=f"test-ci-aliyun-{uid()}"),
                serve_http=False,
                rules_path=str(ctx.settings.rules_dir / "checkin.toml"),
            )
            await service.start()
            try:
                assert service.ingestor is not None
                await asyncio.wait_for(service.ingestor.connected.wait(), 10)
                for seq, when in enumerate((at(9, 30), at(10)), start=1):
                    clock.set(when)
                    await publisher.publish(
                        f"anju/v1/{pir}/event", kit_payload(seq, when, type="pir", event="motion")
                    )

                async def stored() -> bool:
                    async with ctx.db() as session:
                        q = select(SensorEvent.id).where(SensorEvent.household_id == hid)
                        return len(list(await session.scalars(q))) >= 2

                await eventually(stored, within_s=10.0)
                clock.set(at(13, 0, 1))  # three hours of silence: the engine asks the resident

                async def placed() -> Request | None:
                    calls = [r for r in both.aliyun.of("voice") if r.to == phone.removeprefix("+86")]
                    return calls[0] if calls else None

                call: Request = await eventually(placed, within_s=15.0, interval=0.05)
                assert (
                    call.action == "IvrCall"
                    and call.template == CHECKIN_ENV["ANJU_ALIYUN_VOICE_TEMPLATE_CHECKIN_ZH"]
                )
                assert call.variables == {"name": "王秀英"}
                clock.set(at(13, 1, 30))
                assert (await both.pushes.press(call, "1")).status_code == 200

                async def fed() -> bool:
                    async with ctx.db() as session:
                        q = select(SensorEvent.event).where(
                            SensorEvent.household_id == hid, SensorEvent.type == "checkin"
                        )
                        return list(await session.scalars(q)) == ["ok"]

                await eventually(fed, within_s=10.0)
                clock.set(at(13, 11))
                await asyncio.sleep(2.5)  # two ticks of the service past the deadline
                async with ctx.db() as session:
                    checkin = await session.scalar(select(Checkin).where(Checkin.household_id == hid))
                    incidents = list(
                        await session.scalars(select(Incident).where(Incident.household_id == hid))
                    )
                assert checkin is not None and (checkin.state, checkin.answer) == ("ok", "ok")
                assert checkin.detail["answers"][0]["via"] == "keypad"
                assert incidents == [] and both.twilio.created == []
            finally:
                await service.stop()
    finally:
        publisher.close()
