"""The console's sign-out in Debian's Chromium revokes the token on the server, not only the cookie."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import select

from anju.domain import Role
from anju.store.models import AuditRecord, RevokedToken
from tests.support.browser import (
    PASSWORD,
    add_user,
    chromium,
    fresh_database,
    live_server,
    migrated_template,
    new_page,
)

pytestmark = [pytest.mark.browser]


async def test_sign_out_button_revokes_the_token_so_a_copy_of_it_gets_401(tmp_path: Path) -> None:
    url = fresh_database(await migrated_template(tmp_path), tmp_path)
    async with live_server(url) as server, chromium() as browser:
        await add_user(server.ctx, "op-out", Role.OPERATOR)
        context, page = await new_page(browser, server.base_url)
        await page.goto("/")
        await page.fill("#username", "op-out")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page.locator("#logout")).to_be_visible()
        token = next(c["value"] for c in await context.cookies() if c["name"] == "anju_token")
        async with httpx.AsyncClient(base_url=server.base_url) as api:
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await api.get("/api/v1/auth/me", headers=bearer)).status_code == 200

            await page.click("#logout")
            await expect(page).to_have_url(re.compile(r"/login"))
            assert not [c for c in await context.cookies() if c["name"] == "anju_token"]

            # Someone who copied the token before the sign-out cannot use it any more.
            assert (await api.get("/api/v1/auth/me", headers=bearer)).status_code == 401
        async with httpx.AsyncClient(base_url=server.base_url, cookies={"anju_token": token}) as copied:
            console = await copied.get("/", follow_redirects=False)
            assert console.status_code == 303 and "/login" in console.headers["location"]
        # And the browser itself is signed out: the queue sends it back to the sign-in page.
        await page.goto("/")
        await expect(page).to_have_url(re.compile(r"/login"))
        await context.close()
        async with server.ctx.db() as session:
            revoked = list(await session.scalars(select(RevokedToken)))
            logouts = list(
                await session.scalars(select(AuditRecord).where(AuditRecord.action == "auth.logout"))
            )
        assert len(revoked) == 1
        assert [(r.actor, r.content["via"]) for r in logouts] == [("op-out", "console")]
