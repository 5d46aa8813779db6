"""The demo's residents answer check-ins (issue 13): a demo-shaped service on SQLite and Mosquitto.

As ``anju demo`` wires it: a simulated fleet registered, rules/checkin.toml, no provider settings,
the simulated phone handing each check-in call or SMS to the simulator's resident of that number.
Motion over the real broker until 10:00; at 13:00 the engine asks. A well resident answers after
their persona's delay on the service's clock (no incident); a fallen one never answers, and the
window's end pages the operators with a high incident (or presses 9: critical at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.notify.providers import PROVIDERS, Capability
from anju.notify.providers.simulated_phone import SimulatedPhone
from anju.runtime import MqttTarget, Service
from anju.runtime.demo import CHECKIN_RULES
from anju.runtime.demo_residents import DemoResidents
from anju.simulator.answers import ResidentPhones
from anju.simulator.catalog import Persona
from anju.simulator.fleet import Fleet, SimHousehold, build_fleet
from anju.simulator.household import Truth
from anju.simulator.live import register_fleet
from anju.simulator.people import people_for
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import Checkin, Incident, Notification, SensorEvent
from tests.support.ingest import Publisher, eventually, kit_payload
from tests.support.settings import make_settings

SH = ZoneInfo("Asia/Shanghai")


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 3, 2, hh, mm, ss, tzinfo=SH)  # a Monday


@dataclass
class Demo:
    ctx: Context
    clock: SimClock
    home: SimHousehold
    phones: ResidentPhones
    phone: SimulatedPhone

    async def checkin(self) -> Checkin | None:
        async with self.ctx.db() as session:
            return await session.scalar(select(Checkin).where(Checkin.household_id == self.home.id))

    async def paged(self, rule: str) -> list[Incident]:
        """The home's incidents of the check-in's rule (devices going quiet may raise others)."""
        async with self.ctx.db() as session:
            q = select(Incident).where(Incident.household_id == self.home.id, Incident.rule == rule)
            return list(await session.scalars(q))

    async def answer_events(self) -> list[str]:
        async with self.ctx.db() as session:
            q = select(SensorEvent.event).where(
                SensorEvent.household_id == self.home.id, SensorEvent.type == "checkin"
            )
            return list(await session.scalars(q))


def _fleet(persona: Persona) -> Fleet:
    """Two demo homes (a unique id prefix: the broker is shared), the first with ``persona``."""
    fleet = build_fleet(2, 1, id_prefix=f"d{uuid.uuid4().hex[:6]}-", timezone="Asia/Shanghai")
    first = dataclasses.replace(fleet.households[0], persona=persona)
    return dataclasses.replace(fleet, households=(first, *fleet.households[1:]))


@contextlib.asynccontextmanager
async def _demo(tmp_path: Path, mqtt_url: str, persona: Persona) -> AsyncIterator[Demo]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'anju-demo.db'}"
    await upgrade(url)
    clock = SimClock(at(9, 30))
    settings = make_settings(url, mqtt_url=mqtt_url, mqtt_session_expiry_s=60, ingest_batch_wait_ms=10)
    ctx = Context.create(settings, clock=clock)
    fleet = _fleet(persona)
    home = fleet.households[0]
    async with transaction(ctx.db) as session:
        await register_fleet(session, fleet, clock.now())
    phones = ResidentPhones(fleet)
    service = Service(
        ctx,
        MqttTarget(url=mqtt_url, client_id=f"test-demo-{uuid.uuid4().hex[:8]}"),
        serve_http=False,
        rules_path=str(settings.rules_dir / CHECKIN_RULES),
        residents=DemoResidents(ctx, phones),
    )
    publisher = Publisher(mqtt_url)
    try:
        await service.start()
        assert ctx.notifier is not None and isinstance(ctx.notifier.phone, SimulatedPhone)
        assert service.ingestor is not None
        await asyncio.wait_for(service.ingestor.connected.wait(), 10)
        pir = next(d for d in home.devices if d.type == "pir")
        for seq, when in enumerate((at(9, 30), at(10)), start=1):
            clock.set(when)
            await publisher.publish(
                f"anju/v1/{pir.id}/event", kit_payload(seq, when, type="pir", event="motion")
            )

        async def stored() -> bool:
            async with ctx.db() as session:
                q = select(SensorEvent.id).where(SensorEvent.household_id == home.id)
                return len(list(await session.scalars(q))) >= 2

        await eventually(stored, within_s=10.0)
        yield Demo(ctx, clock, home, phones, ctx.notifier.phone)
    finally:
        publisher.close()
        await service.stop()
        if ctx.notifier is not None:
            await ctx.notifier.aclose()
        await ctx.close()


WELL = Persona(name="well", answer_rate=1.0, answer_rate_away=1.0, answer_rate_night=1.0)


def test_the_simulated_phone_is_dev_only_and_built_only_for_simulated_residents() -> None:
    [spec] = [s for s in PROVIDERS if s.name == SimulatedPhone.name]
    assert spec.dev_only and spec.answers_for_residents
    assert spec.serves(Capability.SMS) and spec.serves(Capability.VOICE)
    fleet = build_fleet(1, 1)
    phones = ResidentPhones(fleet)
    number = people_for(0, 1).resident["phone"]
    assert (
        phones.household_of(number) is fleet.households[0] and phones.household_of("+8613800000000") is None
    )


async def test_a_silence_is_asked_and_the_simulated_resident_answers_after_their_delay(
    tmp_path: Path, mqtt_url: str
) -> None:
    async with _demo(tmp_path, mqtt_url, WELL) as demo:
        demo.clock.set(at(13, 0, 1))  # three hours of silence: the engine asks instead of paging

        async def answered() -> Checkin | None:
            found = await demo.checkin()
            return found if found is not None and found.state == "ok" else None

        checkin: Checkin = await eventually(answered, within_s=15.0, interval=0.05)
        resident = people_for(demo.home.index, 1).resident
        assert next(m.to for m in demo.phone.sent if m.checkin_id == checkin.id) == resident["phone"]
        assert checkin.answered_at is not None
        delay = (checkin.answered_at - checkin.asked_at).total_seconds()
        low, high = WELL.answer_delay_s
        assert low <= delay <= high + 5, delay  # the persona's delay, on the service's clock
        # The call and the SMS go out together: the resident answers whichever they take, once.
        [(said, via)] = [(a["answer"], a["via"]) for a in checkin.detail["answers"]]
        assert said == "ok" and via in ("keypad", "sms")

        async def fed() -> bool:
            return await demo.answer_events() == ["ok"]

        await eventually(fed, within_s=10.0)
        demo.clock.set(at(13, 30))
        await asyncio.sleep(2.5)  # two ticks of the service past the window
        assert await demo.paged(checkin.rule) == []
        async with demo.ctx.db() as session:
            rows = list(
                await session.scalars(
                    select(Notification).where(Notification.step == f"checkin:{checkin.id}:1")
                )
            )
        assert {r.provider for r in rows} == {SimulatedPhone.name} and len(rows) == 2
        voice = next(r for r in rows if r.channel == "voice")
        assert voice.status == ("answered" if via == "keypad" else "sent")


@pytest.mark.parametrize("presses_9", [False, True])
async def test_a_fallen_resident_never_answers_and_the_window_pages_a_high_incident(
    tmp_path: Path, mqtt_url: str, presses_9: bool
) -> None:
    persona = dataclasses.replace(WELL, name="fallen", fallen_answers_help=presses_9)
    async with _demo(tmp_path, mqtt_url, persona) as demo:
        fall = Truth(household_id=demo.home.id, kind="fall", start=at(10, 5).timestamp(), end=None)
        demo.phones.note_truth(fall)
        demo.clock.set(at(13, 0, 1))

        async def asked() -> Checkin | None:
            found = await demo.checkin()
            called = found is not None and any(m.checkin_id == found.id for m in demo.phone.sent)
            return found if called else None

        checkin: Checkin = await eventually(asked, within_s=15.0, interval=0.05)
        if not presses_9:
            await asyncio.sleep(1.5)
            still = await demo.checkin()
            assert still is not None and still.state == "calling"
            demo.clock.set(at(13, 10, 1))  # the window ends unanswered

        async def incident() -> list[Incident]:
            return await demo.paged(checkin.rule)

        [paged] = await eventually(incident, within_s=15.0)
        assert paged.severity == ("critical" if presses_9 else "high")
        final = await demo.checkin()
        assert final is not None and final.incident_id == paged.id
        assert final.state == ("help" if presses_9 else "unanswered")
        assert [a["answer"] for a in final.detail["answers"]] == (["help"] if presses_9 else [])
