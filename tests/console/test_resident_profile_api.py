"""The resident's profile, the key holder on demand, bridged calls and the call script, through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from anju.context import Context
from anju.domain import Role
from anju.store.models import AuditRecord, IncidentEvent
from tests.support.api import add_user, bearer, client_for
from tests.support.settings import make_settings
from tests.support.twilio_fake import PUBLIC_URL, Harness, TwilioFake, harness, press_button, twilio_settings

PROFILE: dict[str, Any] = {
    "name": "王桂英",
    "birth_year": 1939,
    "phone": "+86 170 0000 1234",
    "mobility": "walking_aid",
    "hearing": "hard_of_hearing",
    "dialect": "上海话",
    "medical_notes": "高血压，2024 年髋关节置换",
    "medication": "氨氯地平 5mg 每日一次",
    "preferred_hospital": "徐汇区中心医院",
    "translations": {"en": {"name": "Wang Guiying", "dialect": "Shanghainese"}},
}


def _household(hid: str) -> dict[str, Any]:
    return {
        "id": hid,
        "name": "王桂英家",
        "address": "上海市徐汇区天平路 88 弄 3 号 502",
        "key_holder": "邻居张阿姨 502 对门",
        "access_notes": "门口地垫下无钥匙；物业 24 小时可开门",
        "translations": {"en": {"name": "Wang Guiying's home"}},
        "residents": [PROFILE],
        "contacts": [{"name": "李明", "phone": "+8617000011234", "relation": "family"}],
    }


async def _create(client: httpx.AsyncClient, hid: str, headers: dict[str, str]) -> None:
    answer = await client.post("/api/v1/households", json=_household(hid), headers=headers)
    assert answer.status_code == 201, answer.text


async def _audit_actions(ctx: Context) -> list[str]:
    async with ctx.db() as session:
        return list(await session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))


async def test_profile_is_stored_and_access_notes_are_read_only_on_demand_and_audited(ctx: Context) -> None:
    operator = await add_user(ctx, Role.OPERATOR)
    responder = await add_user(ctx, Role.RESPONDER)
    async with client_for(ctx) as client:
        created = await client.post("/api/v1/households", json=_household("hp1"), headers=bearer(operator))
        assert created.status_code == 201, created.text
        body = created.json()
        resident = body["residents"][0]
        assert resident["phone"] == "+8617000001234"
        assert resident["mobility"] == "walking_aid" and resident["medication"].startswith("氨氯地平")
        assert resident["translations"]["en"]["name"] == "Wang Guiying"
        # The key holder is on file, but not in the household's ordinary answer.
        assert body["has_access_notes"] is True
        assert "access_notes" not in body and "邻居" not in created.text
        before = await _audit_actions(ctx)
        shown = await client.post("/api/v1/households/hp1/access", json={}, headers=bearer(operator))
        assert shown.status_code == 200
        assert shown.json() == {
            "key_holder": "邻居张阿姨 502 对门",
            "access_notes": "门口地垫下无钥匙；物业 24 小时可开门",
            "translations": {},
        }
        assert await _audit_actions(ctx) == [*before, "household.access_view"]
        refused = await client.post("/api/v1/households/hp1/access", json={}, headers=bearer(responder))
        assert refused.status_code == 403


async def test_an_invalid_edit_changes_nothing(ctx: Context) -> None:
    operator = await add_user(ctx, Role.OPERATOR)
    async with client_for(ctx) as client:
        await _create(client, "hp2", bearer(operator))
        before = await _audit_actions(ctx)
        bad = {
            "name": "新名字",
            "residents": [{**PROFILE, "mobility": "flying"}],
            "contacts": [{"name": "李明", "phone": "not a phone"}],
        }
        answer = await client.patch("/api/v1/households/hp2", json=bad, headers=bearer(operator))
        assert answer.status_code == 422
        assert "mobility" in answer.text and "phone" in answer.text
        after = (await client.get("/api/v1/households/hp2", headers=bearer(operator))).json()
        assert after["name"] == "王桂英家" and after["residents"][0]["mobility"] == "walking_aid"
        assert await _audit_actions(ctx) == before


@pytest.fixture
async def twilio_env(db_url: str) -> AsyncIterator[tuple[Harness, TwilioFake]]:
    fake = await TwilioFake().start()
    try:
        async with harness(make_settings(db_url, **twilio_settings(fake.url))) as env:
            yield env, fake
    finally:
        await fake.stop()


async def _timeline(ctx: Context, incident_id: int) -> list[IncidentEvent]:
    async with ctx.db() as session:
        query = (
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)
        )
        return list(await session.scalars(query))


async def test_a_bridged_call_rings_the_desk_then_dials_the_resident_on_the_timeline(
    twilio_env: tuple[Harness, TwilioFake],
) -> None:
    env, fake = twilio_env
    operator = bearer(await add_user(env.ctx, Role.OPERATOR))
    client = env.client
    await _create(client, "hb1", operator)
    incident_id = await press_button(env.ctx, "hb1")
    resident_id = (await client.get("/api/v1/households/hb1", headers=operator)).json()["residents"][0]["id"]
    call = {"resident_id": resident_id}
    no_desk = await client.post(f"/api/v1/incidents/{incident_id}/calls", json=call, headers=operator)
    assert no_desk.status_code == 422 and "desk phone" in no_desk.text
    desk = await client.put(
        "/api/v1/users/me/desk-phone", json={"desk_phone": "+8617000009999"}, headers=operator
    )
    assert desk.status_code == 200
    fake.created.clear()
    placed = await client.post(f"/api/v1/incidents/{incident_id}/calls", json=call, headers=operator)
    assert placed.status_code == 202, placed.text
    ref = placed.json()["ref"]
    record = next(c for c in fake.of("voice") if c.to == "+8617000009999")
    assert record.url == f"{PUBLIC_URL}/twilio/bridge/{ref}/twiml"
    # The desk phone answers: Twilio fetches the script, which dials the resident from our number.
    script = await env.twilio.fetch_script(record)
    assert script.status_code == 200
    assert "<Dial" in script.text and "<Number>+8617000001234</Number>" in script.text
    assert f"/twilio/bridge/{ref}/dialed" in script.text
    dialed = await env.twilio.post(
        f"{PUBLIC_URL}/twilio/bridge/{ref}/dialed",
        {
            "CallSid": record.sid,
            "DialCallStatus": "completed",
            "DialCallDuration": "95",
            "DialCallSid": "CA1",
        },
    )
    assert dialed.status_code == 200 and "<Hangup" in dialed.text
    assert (await env.twilio.report(record, "completed")).status_code == 204
    forged = await env.twilio.post(
        f"{PUBLIC_URL}/twilio/bridge/{ref}/status", {"CallStatus": "busy"}, signed=False
    )
    assert forged.status_code == 403
    calls = [(e.kind, e.data.get("leg"), e.data.get("status")) for e in await _timeline(env.ctx, incident_id)]
    assert ("call_bridge", None, None) in calls
    assert calls[calls.index(("call_bridge", None, None)) :][1:] == [
        ("call_status", "desk", "queued"),
        ("call_status", "desk", "answered"),
        ("call_status", "resident", "completed"),
        ("call_status", "desk", "completed"),
    ]
    assert "incident.call_bridge" in await _audit_actions(env.ctx)


async def test_without_a_voice_provider_the_call_button_answers_clearly(ctx: Context) -> None:
    operator = bearer(await add_user(ctx, Role.OPERATOR))
    async with client_for(ctx) as client:
        await _create(client, "hn1", operator)
        incident_id = await press_button(ctx, "hn1")
        answer = await client.post(
            f"/api/v1/incidents/{incident_id}/calls", json={"resident_id": 1}, headers=operator
        )
        assert answer.status_code == 409 and "未配置语音通道" in answer.text


async def test_the_call_script_answers_are_recorded_as_the_outcome(ctx: Context) -> None:
    operator = bearer(await add_user(ctx, Role.OPERATOR))
    supervisor = bearer(await add_user(ctx, Role.SUPERVISOR))
    async with client_for(ctx) as client:
        await _create(client, "hs1", operator)
        incident_id = await press_button(ctx, "hs1")
        url = f"/api/v1/incidents/{incident_id}/call-outcome"
        bad = await client.post(url, json={"answers": {"mistake": "perhaps"}}, headers=operator)
        assert bad.status_code == 422 and "mistake" in bad.text
        assert (
            await client.post(url, json={"answers": {"reached": "yes"}}, headers=supervisor)
        ).status_code == 403
        answers = {"reached": "yes", "mistake": "yes", "condition": "well", "needs": "nothing"}
        done = await client.post(url, json={"answers": answers, "note": "老人说是碰到了"}, headers=operator)
        assert done.status_code == 200, done.text
        assert done.json()["suggested_outcome"] == "false_alarm"
        assert "误按" in done.json()["summary"]
    entry = [e for e in await _timeline(ctx, incident_id) if e.kind == "call_outcome"]
    assert len(entry) == 1 and entry[0].data["answers"] == answers and entry[0].note == "老人说是碰到了"
