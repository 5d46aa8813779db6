"""Every page usable on a 390 px phone (issue 15, point 4), in Chromium, in both languages: nothing
wider than the screen, names and ages on one line (not one character per line), screenshots taken."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from anju.console.links import make_responder_token
from anju.dispatch import service
from anju.domain import IncidentState, Role
from tests.console.scenes import PHONE_WIDTH, fits_the_phone, move, raise_incident, sign_in
from tests.support.browser import (
    LiveServer,
    add_home,
    add_user,
    new_page,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def _one_line(page: Page, selector: str) -> None:
    """The element's text is laid out on one line: Chinese is not broken per character."""
    lines = await page.locator(selector).first.evaluate(
        """e => {
            const range = document.createRange();
            range.selectNodeContents(e);
            const rects = [...range.getClientRects()].filter(r => r.width > 0);
            return new Set(rects.map(r => Math.round(r.top))).size;
        }"""
    )
    assert lines == 1, f"{selector} is laid out on {lines} lines"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_every_staff_page_fits_a_390px_phone(browser: Browser, server: LiveServer, lang: str) -> None:
    await add_user(server.ctx, "adm-phone", Role.ADMIN)
    home = await add_home(server.ctx, name="欧阳秀英", area="徐汇区 / 天平街道 / 天平村")
    incident_id = await raise_incident(server.ctx, home, age_s=75)
    pages = {
        "queue": "/",
        "incident": f"/incidents/{incident_id}",
        "households": "/households",
        "household": f"/households/{home.household_id}",
        "devices": "/devices",
        "reports": "/reports",
        "areas": "/areas",
        "follow-ups": "/follow-ups",
        "handover": "/handover",
    }
    context, page = await new_page(browser, server.base_url, phone=True)
    await sign_in(page, "adm-phone", lang=lang)
    for name, path in pages.items():
        await page.goto(path)
        await expect(page.locator("main h1").first).to_be_visible()
        if name == "queue":
            await expect(page.locator(f'tr[data-id="{incident_id}"]')).to_be_visible()
            await _one_line(page, f'tr[data-id="{incident_id}"] a.incident-link')
            await _one_line(page, f'tr[data-id="{incident_id}"] .age')
        if name == "incident":
            await _one_line(page, "dl.evidence dd")
            await _one_line(page, "table.notifications tbody td:nth-child(2)")
        await fits_the_phone(page)
        await shoot(page, f"phone-{name}-{lang}")
    await context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_sign_in_and_the_responders_sms_link_fit_a_390px_phone(
    browser: Browser, server: LiveServer, lang: str
) -> None:
    await add_user(server.ctx, "op-phone", Role.OPERATOR)
    home = await add_home(server.ctx)
    incident_id = await raise_incident(server.ctx, home)
    await move(server.ctx, incident_id, IncidentState.ACKNOWLEDGED, "op-phone")
    await move(
        server.ctx,
        incident_id,
        IncidentState.DISPATCHED,
        "op-phone",
        responder=service.Responder(contact_id=home.contact_ids[1]),
    )
    context, page = await new_page(browser, server.base_url, phone=True)
    await page.goto(f"/login?lang={lang}")
    await fits_the_phone(page)
    await shoot(page, f"phone-login-{lang}")
    token = make_responder_token(
        server.ctx.settings, incident_id, home.contact_ids[1], server.ctx.clock.now() + timedelta(hours=4)
    )
    await page.goto(f"/r/{token}?lang={lang}")
    await expect(page.locator('button[data-action="arrived"]')).to_be_visible()
    await expect(page.locator('a[href^="tel:"]').first).to_be_visible()
    await fits_the_phone(page)
    width = await page.locator('button[data-action="arrived"]').evaluate(
        "b => b.getBoundingClientRect().width"
    )
    assert width > PHONE_WIDTH * 0.7  # a big target for a thumb
    await shoot(page, f"phone-responder-link-{lang}")
    await context.close()


async def test_operator_signs_in_on_a_phone_and_acknowledges_from_the_queue(
    browser: Browser, server: LiveServer
) -> None:
    await add_user(server.ctx, "op-thumb", Role.OPERATOR)
    home = await add_home(server.ctx, name="司马桂兰")
    incident_id = await raise_incident(server.ctx, home, age_s=200)
    context, page = await new_page(browser, server.base_url, phone=True)
    await sign_in(page, "op-thumb")
    row = page.locator(f'tr[data-id="{incident_id}"]')
    await expect(row.locator(".ack-chip")).to_have_text("严重超时")
    await row.locator("button.ack").click()
    await expect(row).to_have_attribute("data-state", "acknowledged")
    await fits_the_phone(page)
    await context.close()
