"""The queue triages (issue 15, point 3), in Chromium: the 60 s / 180 s marks in colour and position,
filters, search, area groups, a view kept in the address, "assign to me", in both languages."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from anju.domain import IncidentState, Role, Rule, Severity
from tests.console.scenes import fits_the_phone, move, raise_incident, sign_in
from tests.support.browser import (
    LiveServer,
    add_home,
    add_user,
    incident_state,
    new_page,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TIANPING = "徐汇区 / 天平街道 / 天平村"
HUNAN = "徐汇区 / 湖南路街道 / 复兴村"
SIJING = "松江区 / 泗泾镇 / 古楼村"


async def _queue(server: LiveServer) -> dict[str, int]:
    """Four incidents: a critical past 180 s, one past 60 s, a fresh high one, and one already owned."""
    await add_user(server.ctx, "op-tri", Role.OPERATOR)
    await add_user(server.ctx, "op-two", Role.OPERATOR, display_name="值班员小王")
    await add_user(server.ctx, "adm-tri", Role.ADMIN)
    wang = await add_home(server.ctx, name="王秀英", area=TIANPING, events=False)
    li = await add_home(server.ctx, name="李桂兰", area=HUNAN, events=False)
    zhang = await add_home(server.ctx, name="张阿婆", area=SIJING, events=False)
    zhao = await add_home(server.ctx, name="赵老伯", area=TIANPING, events=False)
    ids = {
        "overdue": await raise_incident(server.ctx, wang, age_s=200),
        "late": await raise_incident(server.ctx, li, age_s=90),
        "fresh": await raise_incident(
            server.ctx, zhang, rule=Rule.INACTIVITY, severity=Severity.HIGH, age_s=5
        ),
        "owned": await raise_incident(
            server.ctx, zhao, rule=Rule.DOOR_LEFT_OPEN, severity=Severity.MEDIUM, age_s=900
        ),
    }
    await move(server.ctx, ids["owned"], IncidentState.ACKNOWLEDGED, "op-two")
    return ids


async def _order(page: Page) -> list[int]:
    return [
        int(i)
        for i in await page.locator("#queue-active tbody tr[data-id]").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]


async def test_unacknowledged_incidents_escalate_in_colour_and_position_and_filters_narrow_the_queue(
    browser: Browser, server: LiveServer
) -> None:
    ids = await _queue(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-tri")
    rows = page.locator("#queue-active tbody tr[data-id]")
    await expect(rows).to_have_count(4)
    # Past 180 s first, then past 60 s, then the rest by severity: the order to work in.
    assert await _order(page) == [ids["overdue"], ids["late"], ids["fresh"], ids["owned"]]
    overdue = page.locator(f'tr[data-id="{ids["overdue"]}"]')
    await expect(overdue).to_have_class(re.compile(r"\back-overdue\b"))
    await expect(overdue.locator(".ack-chip")).to_have_text("严重超时")
    await expect(page.locator(f'tr[data-id="{ids["late"]}"]')).to_have_class(re.compile(r"\back-late\b"))
    await expect(page.locator(f'tr[data-id="{ids["late"]}"] .ack-chip')).to_have_text("接警超时")
    await expect(page.locator(f'tr[data-id="{ids["fresh"]}"] .ack-chip')).to_have_count(0)
    colours = await overdue.evaluate("r => getComputedStyle(r).backgroundColor")
    assert colours != "rgba(0, 0, 0, 0)"
    await shoot(page, "triage-01-queue-zh")

    await page.keyboard.press("/")
    await expect(page.locator("#f-q")).to_be_focused()
    await page.locator("#f-q").blur()
    await page.select_option("#f-severity", "high")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-id", str(ids["fresh"]))
    await expect(page.locator("#shown-count")).to_have_text("显示 1 / 共 4 件")
    await page.click("#f-clear")
    await expect(rows).to_have_count(4)

    await page.fill("#f-q", "李桂兰")
    await expect(rows).to_have_count(1)
    await page.fill("#f-q", "")
    await page.select_option("#f-rule", "door_left_open")
    await expect(rows).to_have_count(1)
    await page.click("#f-clear")

    # District → town: the area filter keeps every town of the district; groups name the town.
    await page.select_option("#f-area", "徐汇区")
    await page.select_option("#f-group", "town")
    await expect(rows).to_have_count(3)
    groups = page.locator("#queue-active tr.group-row")
    await expect(groups).to_have_text(["徐汇区 › 天平街道 · 2", "徐汇区 › 湖南路街道 · 1"])
    await shoot(page, "triage-02-grouped-zh")
    # The view lives in the address: a reload (or a bookmark) shows the same view.
    assert "area=" in page.url and "group=town" in page.url
    await page.reload()
    await expect(page.locator("#f-area")).to_have_value("徐汇区")
    await expect(rows).to_have_count(3)
    await page.click("#f-clear")

    # Acknowledging takes the incident: "mine" then shows exactly it.
    await page.locator(f'tr[data-id="{ids["overdue"]}"] button.ack').click()
    await expect(page.locator(f'tr[data-id="{ids["overdue"]}"]')).to_have_attribute(
        "data-state", "acknowledged"
    )
    await page.select_option("#f-owner", "me")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-id", str(ids["overdue"]))
    await context.close()


async def test_admin_assigns_an_owned_incident_to_themself_and_the_queue_reads_english(
    browser: Browser, server: LiveServer
) -> None:
    ids = await _queue(server)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "adm-tri", lang="en")
    owned = page.locator(f'tr[data-id="{ids["owned"]}"]')
    await expect(owned).to_contain_text("值班员小王")
    await expect(page.locator(f'tr[data-id="{ids["overdue"]}"] .ack-chip')).to_have_text("ack overdue")
    await expect(page.locator("#f-sort option:checked")).to_have_text("working order (overdue first)")
    await page.select_option("#f-group", "district")
    await expect(page.locator("#queue-active tr.group-row")).to_have_text(["徐汇区 · 3", "松江区 · 1"])
    await shoot(page, "triage-03-grouped-en")
    await page.select_option("#f-group", "none")
    await owned.locator("button.assign-me").click()
    await expect(owned).to_contain_text("管理员")
    assert (await incident_state(server.ctx, ids["owned"])).owner_id is not None
    await page.select_option("#f-owner", "me")
    await expect(page.locator("#queue-active tbody tr[data-id]")).to_have_count(1)
    await context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_queue_and_its_filters_fit_a_390px_phone(
    browser: Browser, server: LiveServer, lang: str
) -> None:
    ids = await _queue(server)
    context, page = await new_page(browser, server.base_url, phone=True)
    await sign_in(page, "op-tri", lang=lang)
    await expect(page.locator("#queue-active tbody tr[data-id]")).to_have_count(4)
    await fits_the_phone(page)
    # Each row is a card: the household's name on one line, not one character per line.
    name = page.locator(f'tr[data-id="{ids["overdue"]}"] a.incident-link')
    box = await name.bounding_box()
    assert box is not None and box["height"] < 30 and box["width"] > 40, box
    age = page.locator(f'tr[data-id="{ids["overdue"]}"] .age')
    age_box = await age.bounding_box()
    assert age_box is not None and age_box["height"] < 30, age_box
    await shoot(page, f"triage-04-phone-{lang}")
    await context.close()
