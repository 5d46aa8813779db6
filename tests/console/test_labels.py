"""Every label right in both languages (issue 15, point 5), in Chromium: escalation steps, rooms,
channels ("未配置语音通道" for a voice call), never-reported devices, a bad report date answered
with a visible error, and the per-incident export with local times and headers in the console's
language."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from anju.dispatch import escalation
from anju.domain import Role
from anju.notify import outbox
from anju.runtime.demo import DEMO_USERS
from anju.store.db import transaction
from anju.store.models import Contact, Device, SensorEvent
from tests.console.scenes import raise_incident, sign_in
from tests.support.browser import (
    LiveServer,
    add_home,
    add_user,
    incident_state,
    new_page,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
CJK = re.compile(r"[\u4e00-\u9fff]")


async def _escalated_incident(server: LiveServer) -> tuple[int, str]:
    """A critical incident nobody acknowledged: the escalation runs its steps, the outbox finds no
    provider configured (voice calls and SMS are "not sent"); a living-room sensor and a mat that
    never reported."""
    home = await add_home(server.ctx, events=False)
    now = server.ctx.clock.now()
    async with transaction(server.ctx.db) as session:
        session.add(
            Device(
                id=f"mat-{home.household_id}",
                household_id=home.household_id,
                type="bed",
                location="bedroom",
                protocol="anju-v1",
                profile="anju-bed",
                heartbeat_s=3600,
                online=True,
                created_at=now,
            )
        )
        await session.flush()
        device = await session.get(Device, home.pir_id)
        assert device is not None
        device.location = "living_room"
        session.add(
            SensorEvent(
                device_id=home.pir_id,
                household_id=home.household_id,
                type="pir",
                event="motion",
                seq=1,
                ts=now - timedelta(minutes=3),
                received_at=now - timedelta(minutes=3),
                event_time=now - timedelta(minutes=3),
                clock_skewed=False,
            )
        )
    incident_id = await raise_incident(server.ctx, home)
    later = now + timedelta(minutes=20)
    while await escalation.run_due_escalations(server.ctx, later):
        pass
    await outbox.deliver_due(server.ctx, later)
    return incident_id, home.household_id


async def test_steps_channels_rooms_and_device_states_read_as_words_in_both_languages(
    browser: Browser, server: LiveServer
) -> None:
    await add_user(server.ctx, "sup-labels", Role.SUPERVISOR)
    incident_id, household_id = await _escalated_incident(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "sup-labels", start=f"/incidents/{incident_id}")
    timeline = page.locator("#timeline")
    await expect(timeline).to_contain_text("依次电话呼叫紧急联系人（第 1 位）")
    await expect(timeline).not_to_contain_text("call_contacts")
    notifications = page.locator("table.notifications")
    await expect(notifications).to_contain_text("语音电话")
    await expect(notifications).to_contain_text("未发送（未配置语音通道）")
    voice_rows = notifications.locator("tbody tr", has_text="语音电话")
    await expect(voice_rows.first).not_to_contain_text("短信通道")
    # Rooms: the evidence's location and the sensor events' column.
    await expect(page.locator("dl.evidence")).to_contain_text("客厅")
    await expect(page.locator("body")).not_to_contain_text("living_room")
    await shoot(page, "labels-01-incident-zh")
    await page.goto(f"/incidents/{incident_id}?lang=en")
    await expect(timeline).to_contain_text("call the contacts in turn (contact 1)")
    await expect(notifications).to_contain_text("not sent (no voice provider configured)")
    await expect(page.locator("dl.evidence")).to_contain_text("living room")
    await shoot(page, "labels-02-incident-en")

    await page.goto(f"/households/{household_id}?lang=zh-CN")
    never = page.locator('#device-table tr[data-status="never"]')
    await expect(never).to_have_count(1)
    await expect(never).to_contain_text("从未上报")
    await expect(never).to_contain_text("卧室")
    await expect(page.locator('#device-table tr[data-status="online"]').first).to_contain_text("在线")
    await page.goto("/devices")
    await expect(page.locator('#offline tr[data-status="never"]')).to_contain_text("从未上报")
    await page.goto("/devices?lang=en")
    await expect(page.locator('#offline tr[data-status="never"]')).to_contain_text("never reported")
    await shoot(page, "labels-03-devices-en")
    await context.close()


#: The escalation's posts and the demo's display names: Chinese in the data, one language per field.
POSTS = {
    "zh-CN": ("值班坐席", "值班手机", "值班主管"),
    "en": ("duty operators", "duty phone", "on-call supervisor"),
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_recipients_and_the_top_bar_name_posts_in_one_language(
    browser: Browser, server: LiveServer, lang: str
) -> None:
    user = f"op-posts-{lang}"
    await add_user(server.ctx, user, Role.OPERATOR, display_name=DEMO_USERS[2][2])
    incident_id, household_id = await _escalated_incident(server)
    async with transaction(server.ctx.db) as session:
        # The contacts, as the demo's: Chinese names with an English rendering.
        for contact in await session.scalars(select(Contact).where(Contact.household_id == household_id)):
            contact.translations = {"en": {"name": f"Contact {contact.priority}"}}
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, user, lang=lang, start=f"/incidents/{incident_id}")
    recipients = page.locator("table.notifications tbody tr td:nth-child(3)")
    await expect(recipients.first).to_be_visible()
    texts = [" ".join(t.split()) for t in await recipients.all_inner_texts()]
    other = "en" if lang == "zh-CN" else "zh-CN"
    for post in POSTS[lang]:
        assert any(text.startswith(post) for text in texts), (post, texts)
    assert not any(post in text for text in texts for post in POSTS[other]), texts
    whoami = page.locator(".whoami")
    await expect(whoami).to_contain_text("值班员" if lang == "zh-CN" else "duty operator")
    if lang == "en":
        await expect(whoami).not_to_contain_text("值班")
        assert not any(CJK.search(text) for text in texts), texts
        assert any(text.startswith("Contact 0 ") for text in texts), texts
    else:
        assert not any("Contact" in text for text in texts), texts
    await shoot(page, f"labels-06-posts-{lang}")
    await context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_bad_report_date_is_answered_with_a_visible_error(
    browser: Browser, server: LiveServer, lang: str
) -> None:
    await add_user(server.ctx, "sup-dates", Role.SUPERVISOR)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "sup-dates", lang=lang)
    response = await page.goto("/reports?since=2026-13-01")
    assert response is not None and response.status == 422
    error = page.locator("#bad-dates")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("2026-13-01")
    await expect(error).to_contain_text("日期无效" if lang == "zh-CN" else "Not a date")
    await shoot(page, f"labels-04-bad-date-{lang}")
    ok = await page.goto("/reports?since=2026-11-01&until=2026-11-30")
    assert ok is not None and ok.status == 200
    await expect(page.locator("#bad-dates")).to_have_count(0)
    await context.close()


@pytest.mark.parametrize(
    ("lang", "first_headers", "rule"),
    [
        (
            "zh-CN",
            ["事件编号", "住户编号", "住户", "片区", "规则", "级别", "状态", "发生时间（Asia/Shanghai）"],
            "紧急按钮报警",
        ),
        (
            "en",
            [
                "Incident",
                "Household ID",
                "Household",
                "Area",
                "Rule",
                "Severity",
                "State",
                "Raised (Asia/Shanghai)",
            ],
            "alarm button pressed",
        ),
    ],
)
async def test_the_per_incident_export_has_local_times_and_headers_in_the_consoles_language(
    browser: Browser, server: LiveServer, lang: str, first_headers: list[str], rule: str
) -> None:
    await add_user(server.ctx, f"sup-export-{lang}", Role.SUPERVISOR)
    incident_id, household_id = await _escalated_incident(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, f"sup-export-{lang}", lang=lang, start="/reports")
    async with page.expect_download() as info:
        await page.click("#export-incidents")
    download = await info.value
    path = await download.path()
    assert path is not None
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][: len(first_headers)] == first_headers
    row = next(r for r in rows[1:] if r[0] == str(incident_id))
    assert row[1] == household_id and row[4] == rule
    incident = await incident_state(server.ctx, incident_id)
    local = incident.opened_at.astimezone(server.ctx.settings.tz).strftime("%Y-%m-%d %H:%M:%S")
    assert row[7] == local
    assert "T" not in row[7] and "+00:00" not in text
    await context.close()
