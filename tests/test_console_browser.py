"""The console in Debian's Chromium: sign-in, the live queue, the whole loop by clicks, languages, roles."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from anju.domain import Role
from browser.harness import (
    PASSWORD,
    add_home,
    add_user,
    chromium,
    fresh_database,
    incident_state,
    live_server,
    migrated_template,
    new_page,
    press_button,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await migrated_template(tmp_path_factory.mktemp("console-db"))


@pytest_asyncio.fixture(loop_scope="module")
async def server(template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with live_server(fresh_database(template, tmp_path)) as srv:
        yield srv


async def sign_in(page: Page, username: str, *, password: str = PASSWORD) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def test_operator_signs_in_and_a_button_press_appears_live_with_a_chime(
    browser: Browser, server
) -> None:  # type: ignore[no-untyped-def]
    await add_user(server.ctx, "op-live", Role.OPERATOR)
    home = await add_home(server.ctx)
    context, page = await new_page(browser, server.base_url)
    await page.goto("/")
    assert "/login" in page.url
    await shoot(page, "01-login")
    await page.fill("#username", "op-live")
    await page.fill("#password", "wrong password")
    await page.click("button[type=submit]")
    await expect(page.locator(".flash-error")).to_have_text("用户名或密码不正确。")
    await sign_in(page, "op-live")
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    await expect(page.locator("#queue-empty")).to_be_visible()
    await page.click("#enable-alerts")

    incident_id = await press_button(server.ctx, home)

    row = page.locator(f'#queue-active tr[data-id="{incident_id}"]')
    await expect(row).to_be_visible(timeout=3000)
    await expect(row).to_contain_text("王秀英")
    await expect(row).to_contain_text("紧急按钮")
    await expect(row).to_contain_text("待响应")
    await expect(row.locator("td.countdown")).to_have_text(re.compile(r"^\d+秒$"))
    assert await page.evaluate("window.anjuChimes") == 1
    assert await page.evaluate("window.anjuAnnounced") == [incident_id]
    await shoot(page, "02-queue-live-critical")

    # Keyboard: select the row, acknowledge it with "a".
    await page.keyboard.press("j")
    await expect(row).to_have_class(re.compile(r"\bselected\b"))
    await page.keyboard.press("a")
    await expect(row).to_contain_text("已接警")
    await expect(row).to_contain_text("值班员小李")
    assert (await incident_state(server.ctx, incident_id)).state == "acknowledged"
    await context.close()
