"""Check-ins through Aliyun (issues 13 and 16): an interactive call (1 = well, 9 = help) and an SMS.

The official SDKs talk to the local Aliyun fake; its receipt pushes (VoiceCallReport, VoiceReport,
SmsUp) come back to Anju's app and reach the running check-in through the same dispatch entry point
as Twilio's webhooks. The real engine runs rules/checkin.toml: motion until 10:00, the check-in at
13:00, its window ending at 13:10. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.domain import NotificationStatus
from anju.engine.core import Engine
from anju.engine.pack import load_pack
from anju.notify import deliver_due
from anju.notify.providers.aliyun.templates import TEMPLATE_TEXTS
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Device, Household, Notification, Resident
from tests.dispatch.checkin_helpers import Home, at
from tests.support.aliyun import Both, both_providers
from tests.support.aliyun_checkin import CHECKIN_ENV
from tests.support.aliyun_fake import Request


class AliyunHome(Home):
    """A check-in home whose resident's phone is a mainland number (routed to Aliyun)."""

    both: Both

    async def asked(self) -> tuple[Request, Request]:
        """The check-in's first attempt sent: (the IVR call, the SMS) the fake received."""
        await self.tick(at(13))
        await deliver_due(self.ctx, self.clock.now())
        calls, texts = self.both.aliyun.of("voice"), self.both.aliyun.of("sms")
        assert len(calls) == 1 and len(texts) == 1
        return calls[0], texts[0]


@pytest.fixture
async def home(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AliyunHome]:
    clock = SimClock(at(9))
    async with both_providers(db_url, monkeypatch, clock=clock, env=CHECKIN_ENV) as both:
        ctx = both.ctx
        hid = f"h-{uuid.uuid4().hex[:8]}"
        phone = "+86138" + str(uuid.uuid4().int)[:8]
        async with transaction(ctx.db) as session:
            session.add(
                Household(id=hid, name="王奶奶家", rule_overrides={}, created_at=at(9), updated_at=at(9))
            )
            await session.flush()
            session.add(Resident(household_id=hid, name="王秀英", phone=phone, language="zh-CN"))
            session.add(
                Device(
                    id=f"{hid}-pir",
                    household_id=hid,
                    type="pir",
                    location="living room",
                    protocol="anju-v1",
                    profile="anju-pir",
                    created_at=at(9),
                )
            )
        pipe = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "checkin.toml")))
        running = AliyunHome(ctx, clock, pipe, hid)
        running.numbers = (phone,)
        running.both = both
        await pipe.configure_from_db()
        await running.motion(at(9, 30))
        await running.motion(at(10))
        yield running


async def _settled(home: AliyunHome) -> None:
    """The window passes and the engine's timer with it."""
    for t in (at(13, 10), at(13, 30), at(14)):
        await home.tick(t)
        await deliver_due(home.ctx, home.clock.now())


async def test_the_checkin_call_is_interactive_and_key_1_closes_it_as_ok(home: AliyunHome) -> None:
    call, sms = await home.asked()
    assert call.action == "IvrCall" and call.template == "TTS_400000001"
    assert call.variables == {"name": "王秀英"}
    assert call.params["MenuKeyMap.1.Key"] == "1" and call.params["MenuKeyMap.2.Key"] == "9"
    assert call.params["MenuKeyMap.1.Code"] == "TTS_400000011"
    assert (sms.template, sms.variables) == ("SMS_400000003", {"name": "王秀英"})
    assert "平安请按1，需要帮助请按9" in TEMPLATE_TEXTS["voice_checkin"][0]

    home.clock.set(at(13, 2))
    assert (await home.both.pushes.press(call, "1")).status_code == 200
    # The call's end repeats the key: one answer per call, not a second (late) one.
    assert (await home.both.pushes.voice_report(call, "200000", dtmf="1")).status_code == 200
    await home.tick(at(13, 2, 1))
    [ci] = await home.checkins()
    assert (ci.state, ci.answer) == ("ok", "ok")
    assert [(a["answer"], a["via"]) for a in ci.detail["answers"]] == [("ok", "keypad")]
    assert [(e.type, e.event) for e in await home.answer_events()] == [("checkin", "ok")]
    async with home.ctx.db() as session:
        row = await session.scalar(select(Notification).where(Notification.provider_id == call.provider_id))
    assert row is not None and row.status == NotificationStatus.ANSWERED.value
    await _settled(home)
    assert await home.incidents() == []
    # The SMS never got a receipt, but its check-in is decided: no copy through Twilio, no fallback call.
    assert home.both.twilio.created == [] and len(home.both.aliyun.of("voice")) == 1


async def test_key_9_on_the_checkin_call_opens_a_critical_incident_at_once(home: AliyunHome) -> None:
    call, _ = await home.asked()
    home.clock.set(at(13, 1))
    await home.both.pushes.press(call, "9")
    await home.tick(at(13, 1, 1))
    [incident] = await home.incidents()
    assert (incident.severity, incident.rule, incident.state) == ("critical", "inactivity", "open")
    [ci] = await home.checkins()
    assert (ci.state, ci.incident_id) == ("help", incident.id)
    kinds = [e.kind for e in await home.timeline(incident.id)]
    assert "checkin_answer" in kinds and "phone_help" not in kinds


async def test_an_smsup_reply_1_answers_the_checkin(home: AliyunHome) -> None:
    _, sms = await home.asked()
    home.clock.set(at(13, 4))
    assert (await home.both.pushes.sms_up("+86" + sms.to, "1")).status_code == 200
    await home.tick(at(13, 4, 1))
    [ci] = await home.checkins()
    assert ci.state == "ok" and ci.detail["answers"][0]["via"] == "sms"
    assert [e.event for e in await home.answer_events()] == ["ok"]
    await _settled(home)
    assert await home.incidents() == []


async def test_a_key_that_means_nothing_leaves_it_calling(home: AliyunHome) -> None:
    call, _ = await home.asked()
    await home.both.pushes.press(call, "5")
    [ci] = await home.checkins()
    assert ci.state == "calling" and ci.detail["answers"] == []
