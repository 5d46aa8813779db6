"""The resident first, in Debian's Chromium: the incident page leads with the person, calls, the call
script, the key holder on demand, and households edited in the console; both languages, desktop and
phone. Screenshots go to tests/screenshots/ (``resident-*``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from anju.context import Context
from anju.dispatch import service
from anju.domain import Role, Rule, Severity
from anju.engine.model import Finding
from anju.simulator.fleet import build_fleet
from anju.simulator.live import register_fleet
from anju.store.db import transaction
from anju.store.models import AuditRecord, Household, IncidentEvent
from tests.support.browser import (
    PASSWORD,
    LiveServer,
    add_user,
    fresh_database,
    live_server,
    new_page,
    shoot,
)
from tests.support.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioFake, sign

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest_asyncio.fixture(loop_scope="module")
async def twilio() -> AsyncIterator[TwilioFake]:
    fake = await TwilioFake().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def voice_server(template: Path, tmp_path: Path, twilio: TwilioFake) -> AsyncIterator[LiveServer]:
    """The app with Twilio configured (the local fake): the bridged call button is offered."""
    settings = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from": FROM_NUMBER,
        "twilio_api_base": twilio.url,
    }
    async with live_server(fresh_database(template, tmp_path), **settings) as srv:
        yield srv


async def demo_home(ctx: Context, rule: Rule = Rule.BUTTON) -> tuple[str, int]:
    """The demo's first home (its people as ``anju demo`` registers them) and an incident there."""
    fleet = build_fleet(1, seed=1)
    async with transaction(ctx.db) as session:
        await register_fleet(session, fleet, ctx.clock.now())
    hid = fleet.households[0].id
    finding = Finding(
        household_id=hid,
        rule=rule,
        severity=Severity.CRITICAL,
        at=ctx.clock.now(),
        key=f"{rule}:{uuid.uuid4().hex[:8]}",
        device_id=fleet.households[0].devices[0].id,
    )
    async with transaction(ctx.db) as session:
        result = await service.raise_findings(session, [finding], now=ctx.clock.now(), bus=ctx.bus)
    return hid, (result.opened + result.joined)[0].id


async def sign_in(page: Page, username: str, lang: str = "zh-CN") -> None:
    await page.goto(f"/login?lang={lang}")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")


async def timeline(ctx: Context, incident_id: int) -> list[IncidentEvent]:
    async with ctx.db() as session:
        query = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
        return list(await session.scalars(query.order_by(IncidentEvent.id)))


async def fits(page: Page, selector: str) -> None:
    """Nothing in ``selector`` is wider than the phone's screen, nor scrolls sideways."""
    box = await page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    overflow = await page.locator(selector).evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 1, f"{selector} scrolls sideways by {overflow}px"


@pytest.mark.parametrize(
    ("lang", "phone"), [("zh-CN", False), ("en", False), ("zh-CN", True), ("en", True)], ids=str
)
async def test_the_incident_page_leads_with_the_resident(
    browser: Browser, server: LiveServer, lang: str, phone: bool
) -> None:
    await add_user(server.ctx, "op-first", Role.OPERATOR)
    _hid, incident_id = await demo_home(server.ctx)
    context, page = await new_page(browser, server.base_url, phone=phone)
    await sign_in(page, "op-first", lang)
    await page.goto(f"/incidents/{incident_id}")
    card = page.locator("#resident-card")
    # The resident comes before the actions, the alerts and everything else.
    first_card = page.locator("main section.card").first
    await expect(first_card).to_have_id("resident-card")
    zh = lang == "zh-CN"
    await expect(card.locator(".resident-name")).to_have_text("李美华" if zh else "Li Meihua")
    await expect(card.locator(".age")).to_contain_text("岁" if zh else "years old")
    await expect(card.locator("a.tel").first).to_have_attribute("href", "tel:+8617000000000")
    await expect(card.locator("dd.mobility")).not_to_have_text("")
    await expect(card.locator("dd.medication")).to_contain_text("阿司匹林" if zh else "aspirin")
    await expect(card.locator("dd.preferred_hospital")).not_to_have_text("")
    # Without a voice provider there is no bridged-call button, only the tel: links.
    await expect(card.locator("button.bridge-call")).to_have_count(0)
    script = page.locator("#call-script")
    await expect(script).to_contain_text("紧急按钮" if zh else "alarm button")
    await expect(script.locator("fieldset.script-q")).to_have_count(4)
    if not zh:
        for part in ("#resident-card", "#call-script"):
            text = await page.locator(part).inner_text()
            assert not CJK.search(text), f"{part} shows Chinese in the English console: {text!r}"
    # The key holder is not on the page until asked for; asking is on the timeline and audited.
    await expect(card.locator("#access-text")).to_be_hidden()
    assert "物业" not in await page.content()
    await card.locator("#show-access").click()
    await expect(card.locator("#key-holder")).to_contain_text("对门邻居" if zh else "neighbour opposite")
    await expect(card.locator("#access-notes")).to_be_visible()
    if not zh:
        assert not CJK.search(await card.locator("#access-text").inner_text())
    if phone:
        await fits(page, "#resident-card")
        await fits(page, "#call-script")
    await shoot(page, f"resident-incident-{lang}-{'phone' if phone else 'desktop'}")
    kinds = [e.kind for e in await timeline(server.ctx, incident_id)]
    assert "access_viewed" in kinds
    async with server.ctx.db() as session:
        actions = list(await session.scalars(select(AuditRecord.action)))
    assert "incident.access_viewed" in actions
    await context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_call_script_answers_become_the_outcome(
    browser: Browser, server: LiveServer, lang: str
) -> None:
    await add_user(server.ctx, "op-script", Role.OPERATOR)
    _hid, incident_id = await demo_home(server.ctx)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-script", lang)
    await page.goto(f"/incidents/{incident_id}")
    await page.click('button.transition[data-to="acknowledged"]')
    await expect(page.locator("#incident-state")).to_have_attribute("data-state", "acknowledged")
    record = page.locator("#record-script")
    await record.click()  # nothing chosen: refused in the page
    await expect(page.locator("#script-result")).to_have_text(
        "请至少回答一个问题。" if lang == "zh-CN" else "Answer at least one question."
    )
    for key, value in (("reached", "yes"), ("mistake", "yes"), ("condition", "well"), ("needs", "nothing")):
        await page.check(f'fieldset[data-key="{key}"] input[value="{value}"]')
    await page.fill("#script-note", "碰到了按钮" if lang == "zh-CN" else "knocked the button")
    await record.click()
    result = page.locator("#script-result")
    await expect(result).to_contain_text("误按" if lang == "zh-CN" else "pressed by mistake")
    if lang == "en":
        assert not CJK.search(await result.inner_text())
    await expect(page.locator("#outcome")).to_have_value("false_alarm")
    await shoot(page, f"resident-script-{lang}")
    await page.reload()
    entry = page.locator("#timeline li.tl-call_outcome")
    await expect(entry).to_contain_text("通话结果" if lang == "zh-CN" else "call answers")
    await expect(entry).to_contain_text("误按" if lang == "zh-CN" else "pressed by mistake")
    stored = [e for e in await timeline(server.ctx, incident_id) if e.kind == "call_outcome"]
    assert stored[0].data["answers"]["mistake"] == "yes"
    await context.close()


async def test_a_bridged_call_rings_the_desk_phone_then_the_resident(
    browser: Browser, voice_server: LiveServer, twilio: TwilioFake
) -> None:
    await add_user(voice_server.ctx, "op-call", Role.OPERATOR)
    _hid, incident_id = await demo_home(voice_server.ctx)
    context, page = await new_page(browser, voice_server.base_url)
    await sign_in(page, "op-call")
    await page.goto(f"/incidents/{incident_id}")
    call = page.locator("#resident-card .resident button.bridge-call")
    await call.click()  # no desk phone yet: the reason is shown, nothing is dialled
    await expect(page.locator("#call-message")).to_contain_text("座机")
    assert twilio.of("voice") == []
    await page.fill("#desk-phone", "+86 170 9999 0001")
    async with page.expect_navigation():
        await page.click("#desk-phone-form button[type=submit]")
    await expect(page.locator("#desk-phone")).to_have_value("+8617099990001")
    await page.locator("#resident-card .resident button.bridge-call").click()
    await expect(page.locator("#call-message")).to_contain_text("+8617099990001")
    created = await twilio.next_created()
    assert created.to == "+8617099990001" and "/twilio/bridge/" in created.url
    # Twilio's side: the desk phone answers (the script dials the resident), the resident hangs up.
    public = voice_server.base_url
    path = created.url.split("/twilio/", 1)[1]
    async with httpx.AsyncClient() as client:
        for url, params in (
            (f"{public}/twilio/{path}", {"CallSid": created.sid, "CallStatus": "in-progress"}),
            (
                f"{public}/twilio/{path.replace('twiml', 'dialed')}",
                {"CallSid": created.sid, "DialCallStatus": "completed", "DialCallDuration": "95"},
            ),
        ):
            answer = await client.post(url, data=params, headers={"X-Twilio-Signature": sign(url, params)})
            assert answer.status_code == 200, answer.text
            if url.endswith("twiml"):
                assert "<Number>+8617000000000</Number>" in answer.text
    await page.reload()
    calls = page.locator("#timeline li.tl-call_status")
    await expect(page.locator("#timeline li.tl-call_bridge")).to_contain_text("李美华")
    await expect(calls.last).to_contain_text("对方：通话结束 · 95 秒")
    await shoot(page, "resident-bridged-call-zh-CN")
    await context.close()


@pytest.mark.parametrize(("lang", "phone"), [("zh-CN", False), ("en", True)], ids=str)
async def test_households_are_created_and_edited_in_the_console_all_or_nothing(
    browser: Browser, server: LiveServer, lang: str, phone: bool
) -> None:
    await add_user(server.ctx, "op-edit", Role.OPERATOR)
    context, page = await new_page(browser, server.base_url, phone=phone)
    await sign_in(page, "op-edit", lang)
    await page.goto("/households")
    async with page.expect_navigation():
        await page.click("#new-household")
    hid = f"h-new-{uuid.uuid4().hex[:4]}"
    await page.fill("#f-id", hid)
    await page.fill("#f-name", "赵玉兰家")
    await page.fill("#f-name-en", "Zhao Yulan's home")
    await page.fill("#f-address", "上海市静安区 1 号")
    await page.fill("#f-key-holder", "女儿赵敏")
    resident = page.locator("#residents .resident-row").first
    await resident.locator('[data-f="name"]').fill("赵玉兰")
    await resident.locator('[data-f="name_en"]').fill("Zhao Yulan")
    await resident.locator('[data-f="birth_year"]').fill("1940")
    await resident.locator('[data-f="phone"]').fill("+86 170 0000 4444")
    await resident.locator('[data-f="mobility"]').select_option("wheelchair")
    await resident.locator('[data-f="medication"]').fill("二甲双胍")
    contact = page.locator("#contacts .contact-row").first
    await contact.locator('[data-f="name"]').fill("赵敏")
    await contact.locator('[data-f="phone"]').fill("12345")  # not a phone number
    await page.click("#save-household")
    error = page.locator("#edit-error")
    await expect(error).to_contain_text("未保存" if lang == "zh-CN" else "Nothing was saved")
    await expect(error).to_contain_text("联系人 1 · 电话" if lang == "zh-CN" else "Contact 1 · Phone")
    await expect(contact.locator('[data-f="phone"]')).to_have_class(re.compile("invalid"))
    await shoot(page, f"resident-household-new-refused-{lang}-{'phone' if phone else 'desktop'}")
    async with server.ctx.db() as session:
        assert await session.get(Household, hid) is None
    await contact.locator('[data-f="phone"]').fill("+86 170 1000 4444")
    async with page.expect_navigation():
        await page.click("#save-household")
    await expect(page.locator("#saved")).to_be_visible()
    await expect(page.locator("h1")).to_contain_text("赵玉兰家" if lang == "zh-CN" else "Zhao Yulan's home")
    # Edit: a second contact, a different hearing; one request, one audit record.
    async with page.expect_navigation():
        await page.click("#edit-household")
    await page.locator('#residents .resident-row [data-f="hearing"]').select_option("deaf")
    await page.click("#add-contact")
    second = page.locator("#contacts .contact-row").nth(1)
    await second.locator('[data-f="name"]').fill("邻居老吴")
    await second.locator('[data-f="relation"]').select_option("neighbour")
    await second.locator('[data-f="phone"]').fill("+8617030004444")
    if phone:
        await fits(page, "#household-form")
    await shoot(page, f"resident-household-edit-{lang}-{'phone' if phone else 'desktop'}")
    async with page.expect_navigation():
        await page.click("#save-household")
    await expect(page.locator(".household-card .contacts li")).to_have_count(2)
    async with server.ctx.db() as session:
        household = await session.get(Household, hid)
        assert household is not None and household.key_holder == "女儿赵敏"
        records = list(
            await session.scalars(
                select(AuditRecord).where(AuditRecord.entity_id == hid).order_by(AuditRecord.id)
            )
        )
    assert [r.action for r in records] == ["household.create", "household.update"]
    assert records[1].content["residents"]["to"][0]["hearing"] == "deaf"
    assert records[1].content["residents"]["to"][0]["translations"] == {"en": {"name": "Zhao Yulan"}}
    await context.close()
