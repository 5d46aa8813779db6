"""A check-in end to end: Mosquitto → runtime → the resident's phone (twilio SDK, local fake) → an answer.

The live service runs rules/checkin.toml. Motion published over the real broker until 10:00; at
13:00 the engine asks instead of paging: the outbox calls the resident through the twilio SDK, the
fake plays Twilio's side (the call fetching its script, a key or a spoken word, an SMS reply), and
the answer comes back as a ``checkin`` event the engine reads. 1 pages nobody; 9 opens a critical
incident at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.domain import DeviceKind
from anju.notify import DeliveryPolicy
from anju.runtime import MqttTarget, Service
from anju.simulator.answers import answer_call
from anju.simulator.catalog import Persona
from anju.store.db import transaction
from anju.store.models import Checkin, Incident, Resident, SensorEvent
from tests.support.ingest import Publisher, eventually, kit_payload, register, uid
from tests.support.settings import make_settings
from tests.support.twilio_fake import Created, Harness, TwilioFake, harness, twilio_settings, unique_phone

SH = ZoneInfo("Asia/Shanghai")


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 3, 1, hh, mm, ss, tzinfo=SH)


@dataclass
class Live:
    env: Harness
    clock: SimClock
    fake: TwilioFake
    hid: str
    phone: str

    async def checkin(self) -> Checkin | None:
        async with self.env.ctx.db() as session:
            return await session.scalar(select(Checkin).where(Checkin.household_id == self.hid))

    async def incidents(self) -> list[Incident]:
        async with self.env.ctx.db() as session:
            return list(await session.scalars(select(Incident).where(Incident.household_id == self.hid)))

    async def call(self) -> Created:
        async def placed() -> Created | None:
            calls = self.fake.of("voice", to=self.phone)
            return calls[0] if calls else None

        found: Created = await eventually(placed, within_s=15.0, interval=0.05)
        return found


@contextlib.asynccontextmanager
async def _live(db_url: str, mqtt_url: str) -> AsyncIterator[Live]:
    fake = await TwilioFake().start()
    clock = SimClock(at(9, 30))
    settings = make_settings(
        db_url,
        mqtt_url=mqtt_url,
        mqtt_session_expiry_s=60,
        ingest_batch_wait_ms=10,
        **twilio_settings(fake.url),
    )
    publisher = Publisher(mqtt_url)
    try:
        async with harness(settings, clock=clock, policy=DeliveryPolicy(backoff_base_s=0.1)) as env:
            hid, pir, phone = f"h-{uid()}", f"pir-{uid()}", unique_phone()
            await register(env.ctx.db, hid, [(pir, DeviceKind.PIR, "")])
            async with transaction(env.ctx.db) as session:
                session.add(Resident(household_id=hid, name="王秀英", phone=phone, language="zh-CN"))
            rules = str(env.ctx.settings.rules_dir / "checkin.toml")
            service = Service(
                env.ctx,
                MqttTarget(url=mqtt_url, client_id=f"test-ci-{uid()}"),
                serve_http=False,
                rules_path=rules,
            )
            try:
                await service.start()
                assert service.ingestor is not None
                await asyncio.wait_for(service.ingestor.connected.wait(), 10)
                for seq, when in enumerate((at(9, 30), at(10)), start=1):
                    clock.set(when)
                    await publisher.publish(
                        f"anju/v1/{pir}/event", kit_payload(seq, when, type="pir", event="motion")
                    )

                async def stored() -> int:
                    async with env.ctx.db() as session:
                        rows = await session.scalars(
                            select(SensorEvent.id).where(SensorEvent.household_id == hid)
                        )
                        return len(list(rows)) >= 2

                await eventually(stored, within_s=10.0)
                yield Live(env, clock, fake, hid, phone)
            finally:
                await service.stop()
    finally:
        publisher.close()
        await fake.stop()


@pytest.fixture
async def live(db_url: str, mqtt_url: str) -> AsyncIterator[Live]:
    async with _live(db_url, mqtt_url) as running:
        yield running


async def _script_and_gather(live: Live, call: Created) -> str:
    script = await live.env.twilio.fetch_script(call)
    assert script.status_code == 200, script.text
    assert 'input="dtmf speech"' in script.text and "平安请按1，需要帮助请按9" in script.text
    action = re.search(r'action="([^"]+)"', script.text)
    assert action is not None
    return action.group(1)


async def test_keypad_1_says_the_resident_is_well_and_nobody_is_paged(live: Live) -> None:
    live.clock.set(at(13, 0, 1))
    call = await live.call()
    gather = await _script_and_gather(live, call)
    said = await live.env.twilio.press(call, gather, "1")
    assert "平安" in said.text or "谢谢" in said.text

    async def fed() -> bool:
        async with live.env.ctx.db() as session:
            q = select(SensorEvent.event).where(
                SensorEvent.household_id == live.hid, SensorEvent.type == "checkin"
            )
            return list(await session.scalars(q)) == ["ok"]

    await eventually(fed, within_s=10.0)
    live.clock.set(at(13, 11))
    await asyncio.sleep(2.5)  # two ticks of the service past the deadline
    checkin = await live.checkin()
    assert checkin is not None and checkin.state == "ok"
    assert await live.incidents() == []


async def test_keypad_9_opens_a_critical_incident_at_once(live: Live) -> None:
    live.clock.set(at(13, 0, 1))
    call = await live.call()
    gather = await _script_and_gather(live, call)
    said = await live.env.twilio.press(call, gather, "9")
    assert "守护中心" in said.text

    async def critical() -> list[Incident]:
        return [i for i in await live.incidents() if i.severity == "critical"]

    [incident] = await eventually(critical, within_s=10.0)
    assert incident.rule == "inactivity"
    checkin = await live.checkin()
    assert checkin is not None and (checkin.state, checkin.incident_id) == ("help", incident.id)


async def test_a_spoken_answer_and_an_sms_reply_are_answers_too(live: Live) -> None:
    live.clock.set(at(13, 0, 1))
    call = await live.call()
    gather = await _script_and_gather(live, call)
    unclear = await live.env.twilio.post(
        gather, {"CallSid": call.sid, "SpeechResult": "嗯？", "To": call.to, "From": call.from_}
    )
    assert "<Redirect" in unclear.text  # asked again
    reply = await live.env.twilio.sms_in(live.phone, "1")
    assert reply.status_code == 200 and "谢谢" in reply.text

    async def answered() -> Checkin | None:
        found = await live.checkin()
        return found if found is not None and found.state == "ok" else None

    checkin = await eventually(answered, within_s=10.0)
    assert checkin.detail["answers"][0]["via"] == "sms"


@pytest.mark.parametrize("says_help", [True, False])
async def test_the_simulators_fallen_resident_presses_9_or_never_answers(live: Live, says_help: bool) -> None:
    persona = Persona(name="fallen", fallen_answers_help=says_help)
    live.clock.set(at(13, 0, 1))
    call = await live.call()
    reply = answer_call(persona, random.Random(7), fallen=True)
    assert 30 <= reply.delay_s <= 180
    if reply.key is not None:  # the fake hands the call to the simulated resident, who presses 9
        gather = await _script_and_gather(live, call)
        await live.env.twilio.press(call, gather, reply.key)
    else:
        live.clock.set(at(13, 10, 1))  # it rings out, twice, then the mobile; the window ends

    async def paged() -> list[Incident]:
        return await live.incidents()

    [incident] = await eventually(paged, within_s=15.0)
    assert incident.severity == ("critical" if says_help else "high")
    checkin = await live.checkin()
    assert checkin is not None and checkin.state == ("help" if says_help else "unanswered")


def test_a_well_resident_answers_at_the_personas_rate() -> None:
    rng = random.Random(1)
    persona = Persona(name="well")
    replies = [answer_call(persona, rng, fallen=False) for _ in range(2000)]
    rate = sum(r.key == "1" for r in replies) / len(replies)
    assert 0.82 < rate < 0.88
    night = [answer_call(persona, rng, fallen=False, local_hour=2) for _ in range(2000)]
    assert 0.66 < sum(r.key == "1" for r in night) / len(night) < 0.74
