"""The red banner in Chromium: every signed-in operator sees a degraded alarm path until it recovers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect

from anju.domain import Role
from tests.support.browser import (
    PASSWORD,
    add_user,
    fresh_database,
    live_service,
    migrated_template,
    new_page,
    shoot,
)
from tests.support.ingest import free_port, start_mosquitto

pytestmark = [pytest.mark.browser, pytest.mark.mqtt, pytest.mark.asyncio(loop_scope="module")]

#: The service evaluates its checks four times a second here; the console polls /readyz once a second.
FAST = {
    "health_interval_s": 0.25,
    "canary_interval_s": 1.0,
    "canary_deadline_s": 1.5,
    "health_recover_s": 0.5,
}
SEEN_WITHIN_MS = 5_000


async def sign_in(page: Page, username: str, *, lang: str = "") -> None:
    await page.goto("/" + (f"?lang={lang}" if lang else ""))
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#logout")).to_be_visible()


async def test_a_killed_broker_shows_every_operator_a_red_banner_until_it_is_back(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    broker = start_mosquitto(port, tmp_path)
    database = fresh_database(await migrated_template(tmp_path), tmp_path)
    try:
        async with live_service(database, f"mqtt://127.0.0.1:{port}", **FAST) as srv:
            await add_user(srv.ctx, "op-health", Role.OPERATOR)
            await add_user(srv.ctx, "sup-health", Role.SUPERVISOR)
            zh_ctx, zh = await new_page(browser, srv.base_url)
            en_ctx, en = await new_page(browser, srv.base_url)
            try:
                await sign_in(zh, "op-health")
                await sign_in(en, "sup-health", lang="en")
                zh_banner, en_banner = zh.locator("#health-banner"), en.locator("#health-banner")
                await expect(zh_banner).to_be_hidden()
                await expect(en_banner).to_be_hidden()

                broker.kill()
                broker.wait(5)
                await expect(zh_banner).to_be_visible(timeout=SEEN_WITHIN_MS)
                await expect(zh_banner).to_contain_text("报警链路异常")
                await expect(zh_banner.locator("li[data-check=mqtt]")).to_contain_text(
                    "MQTT 消息服务器未连接"
                )
                await expect(zh_banner.locator("li[data-check=mqtt]")).to_contain_text(
                    f"not connected to the MQTT broker 127.0.0.1:{port}"
                )
                color = await zh_banner.evaluate("el => getComputedStyle(el).backgroundColor")
                assert color == "rgb(179, 38, 30)"  # var(--bad): red
                await expect(en_banner).to_be_visible(timeout=SEEN_WITHIN_MS)
                await expect(en_banner).to_contain_text("Alarm path degraded")
                await expect(en_banner.locator("li[data-check=mqtt]")).to_contain_text(
                    "MQTT broker not connected"
                )
                await shoot(zh, "health-banner-zh")

                # Another page of the console shows it too: the banner is on every page.
                await zh.goto("/households")
                await expect(zh.locator("#health-banner")).to_be_visible(timeout=SEEN_WITHIN_MS)

                broker = start_mosquitto(port, tmp_path)
                await expect(zh.locator("#health-banner")).to_be_hidden(timeout=SEEN_WITHIN_MS + 5_000)
                await expect(en_banner).to_be_hidden(timeout=SEEN_WITHIN_MS)
            finally:
                await zh_ctx.close()
                await en_ctx.close()
    finally:
        broker.kill()
        broker.wait(5)


async def test_a_console_that_cannot_reach_the_service_shows_the_banner_too(
    browser: Browser, tmp_path: Path, mqtt_url: str
) -> None:
    database = fresh_database(await migrated_template(tmp_path), tmp_path)
    async with live_service(database, mqtt_url, **FAST) as srv:
        await add_user(srv.ctx, "op-cut", Role.OPERATOR)
        context, page = await new_page(browser, srv.base_url)
        try:
            await sign_in(page, "op-cut")
            banner = page.locator("#health-banner")
            await expect(banner).to_be_hidden()

            async def unreachable(route: Route) -> None:
                await route.abort("connectionrefused")

            await page.route("**/readyz", unreachable)
            await expect(banner).to_be_visible(timeout=SEEN_WITHIN_MS)
            await expect(banner.locator("li[data-check=service]")).to_contain_text("无法连接安居服务")
            await page.unroute("**/readyz")
            await expect(banner).to_be_hidden(timeout=SEEN_WITHIN_MS)
        finally:
            await context.close()
