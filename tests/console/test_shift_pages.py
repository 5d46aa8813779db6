"""The shift's pages (issue 15, point 3) in Chromium: the area overview, overdue follow-ups and the
shift hand-over (its note and open items in the audit log), in both languages and on a phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select, update

from anju.audit import verify
from anju.domain import IncidentState, Role, Rule, Severity
from anju.store.db import transaction
from anju.store.models import AuditRecord, Household, Incident
from tests.console.scenes import fits_the_phone, move, raise_incident, sign_in
from tests.support.browser import (
    LiveServer,
    add_home,
    add_user,
    new_page,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def _shift(server: LiveServer) -> dict[str, int]:
    """Two districts; an open incident, a degraded home, and a follow-up two hours overdue."""
    await add_user(server.ctx, "op-shift", Role.OPERATOR)
    wang = await add_home(server.ctx, name="王秀英", area="徐汇区 / 天平街道 / 天平村", events=False)
    li = await add_home(server.ctx, name="李桂兰", area="徐汇区 / 天平街道 / 天平村", events=False)
    zhang = await add_home(server.ctx, name="张阿婆", area="松江区 / 泗泾镇 / 古楼村", events=False)
    opened = await raise_incident(server.ctx, wang, age_s=30)
    followed = await raise_incident(server.ctx, li, rule=Rule.INACTIVITY, severity=Severity.HIGH)
    await move(server.ctx, followed, IncidentState.ACKNOWLEDGED, "op-shift")
    await move(
        server.ctx,
        followed,
        IncidentState.RESOLVED,
        "op-shift",
        outcome="resident_well",
        note="电话联系，平安",
    )
    now = server.ctx.clock.now()
    async with transaction(server.ctx.db) as session:
        await session.execute(
            update(Incident).where(Incident.id == followed).values(follow_up_due_at=now - timedelta(hours=2))
        )
        await session.execute(
            update(Household).where(Household.id == zhang.household_id).values(monitoring_degraded=True)
        )
    return {"opened": opened, "followed": followed}


async def test_area_overview_counts_homes_incidents_and_degraded_monitoring_per_level(
    browser: Browser, server: LiveServer
) -> None:
    await _shift(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-shift", start="/areas")
    table = page.locator("#area-overview")
    district = table.locator('tr[data-area="徐汇区"]')
    await expect(district.locator("td")).to_have_text(["徐汇区", "2", "1", "1", "0", "0"])
    await expect(table.locator('tr[data-area="徐汇区 › 天平街道 › 天平村"] td').first).to_have_text("天平村")
    await expect(table.locator('tr[data-area="松江区"] td')).to_have_text(["松江区", "1", "0", "0", "1", "0"])
    await shoot(page, "shift-01-areas-zh")
    # A name opens that area's queue, filtered and grouped.
    await district.locator("a").click()
    await expect(page).to_have_url(re.compile(r"/\?area="))
    await expect(page.locator("#f-area")).to_have_value("徐汇区")
    await expect(page.locator("#queue-active tbody tr[data-id]")).to_have_count(1)
    await page.goto("/areas?lang=en")
    await expect(page.locator("#area-overview thead")).to_contain_text("Degraded monitoring")
    await context.close()


async def test_overdue_follow_ups_have_their_own_page_overdue_first(
    browser: Browser, server: LiveServer
) -> None:
    ids = await _shift(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-shift", start="/follow-ups")
    overdue = page.locator("#follow-overdue tbody tr[data-id]")
    await expect(overdue).to_have_count(1)
    await expect(overdue.first).to_have_attribute("data-id", str(ids["followed"]))
    await expect(overdue.first).to_contain_text("已逾期 2小时0分")
    await expect(overdue.first).to_contain_text("老人平安")
    await shoot(page, "shift-02-follow-ups-zh")
    await page.goto("/follow-ups?lang=en")
    await expect(page.locator("#follow-overdue tbody tr").first).to_contain_text("overdue by 2h 0m")
    await context.close()


async def test_shift_hand_over_records_the_note_and_the_open_items_in_the_audit_log(
    browser: Browser, server: LiveServer
) -> None:
    ids = await _shift(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-shift", start="/handover")
    await expect(page.locator("#handover-active tbody tr[data-id]")).to_have_count(1)
    await expect(page.locator("#handover-closing tbody tr[data-id]")).to_have_count(1)
    await page.click("#shift-submit")
    await expect(page.locator("#shift-flash")).to_have_text("请填写备注。")
    note = "王秀英家按钮报警未接通，下一班继续联系家属；李桂兰回访已逾期。"
    await page.fill("#shift-note", note)
    async with page.expect_navigation():
        await page.click("#shift-submit")
    entry = page.locator("#handover-list li").first
    await expect(entry).to_contain_text(note)
    await expect(entry).to_contain_text("op-shift")
    await expect(entry).to_contain_text("当时未结案 2 件")
    await shoot(page, "shift-03-handover-zh")
    async with server.ctx.db() as session:
        record = await session.scalar(select(AuditRecord).where(AuditRecord.action == "shift.handover"))
        assert record is not None and record.actor == "op-shift"
        assert record.content["note"] == note
        assert sorted(record.content["open_incidents"]) == sorted(ids.values())
        checked, broken = await verify(session)
        assert broken is None and checked >= 1
    # Without the console's CSRF header the same post is refused.
    refused = await page.request.post(f"{server.base_url}/handover", data={"note": "forged"})
    assert refused.status == 403
    await page.goto("/handover?lang=en")
    await expect(page.locator("#handover-list li").first).to_contain_text("2 open then")
    await context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_shift_pages_fit_a_390px_phone(browser: Browser, server: LiveServer, lang: str) -> None:
    await _shift(server)
    context, page = await new_page(browser, server.base_url, phone=True)
    await sign_in(page, "op-shift", lang=lang)
    for path, name in (("/areas", "areas"), ("/follow-ups", "follow-ups"), ("/handover", "handover")):
        await page.goto(path)
        await expect(page.locator("h1")).to_be_visible()
        await fits_the_phone(page)
        await shoot(page, f"shift-phone-{name}-{lang}")
    await context.close()
