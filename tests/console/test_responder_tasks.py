"""The responder's phone (issue 15, point 4), in Chromium at 390 px: the demo's responder login is
linked to the contact its incident is dispatched to, and sees it with the address, people to call
(``tel:``) and "arrived" / "resolved", in both languages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from sqlalchemy import select

from anju.dispatch import service
from anju.domain import IncidentState, Rule, Severity
from anju.engine.model import Finding
from anju.runtime.demo import DEMO_PASSWORD, seed_users
from anju.runtime.demo_tasks import seed_responder_task
from anju.simulator.fleet import build_fleet
from anju.simulator.live import register_fleet
from anju.store.db import transaction
from anju.store.models import Contact, Household, User
from tests.console.scenes import fits_the_phone, sign_in
from tests.support.browser import (
    LiveServer,
    fresh_database,
    incident_state,
    live_server,
    new_page,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def demo(template: Path, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The demo's homes and logins, as ``anju demo`` seeds them (three homes, no simulator)."""
    async with live_server(fresh_database(template, tmp_path)) as srv:
        async with transaction(srv.ctx.db) as session:
            await register_fleet(session, build_fleet(3, 1), srv.ctx.clock.now())
        await seed_users(srv.ctx)
        yield srv


async def test_the_demo_responder_is_linked_to_the_contact_its_incident_is_dispatched_to(
    demo: LiveServer,
) -> None:
    first = await seed_responder_task(demo.ctx)
    assert first is not None
    assert await seed_responder_task(demo.ctx) == first  # once: a restart adds no second task
    incident = await incident_state(demo.ctx, first)
    async with demo.ctx.db() as session:
        responder = await session.scalar(select(User).where(User.username == "responder"))
        assert responder is not None and responder.contact_id is not None
        contact = await session.get(Contact, responder.contact_id)
    assert contact is not None and contact.relation == "grid_worker"
    assert incident.state == "dispatched" and incident.responder_contact_id == contact.id
    assert incident.household_id == contact.household_id


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_responder_sees_the_task_on_a_phone_calls_and_records_arrival_and_resolution(
    browser: Browser, demo: LiveServer, lang: str
) -> None:
    incident_id = await seed_responder_task(demo.ctx)
    assert incident_id is not None
    incident = await incident_state(demo.ctx, incident_id)
    async with demo.ctx.db() as session:
        home = await session.get(Household, incident.household_id)
        assert home is not None
        phones = (await session.scalars(select(Contact.phone).where(Contact.household_id == home.id))).all()
    context, page = await new_page(browser, demo.base_url, phone=True)
    await sign_in(page, "responder", lang=lang, password=DEMO_PASSWORD)
    card = page.locator(f'.task-card[data-id="{incident_id}"]')
    await expect(card).to_be_visible()
    await expect(card.locator(".address")).to_have_text(home.address)
    for phone in phones:
        await expect(card.locator(f'a[href="tel:{phone}"]')).to_have_count(1)
    arrive = card.locator('button[data-action="arrived"]')
    await expect(arrive).to_have_text("已到达现场" if lang == "zh-CN" else "Arrived on site")
    await fits_the_phone(page)
    await shoot(page, f"responder-01-task-{lang}")

    async with page.expect_navigation():
        await arrive.click()
    await expect(card.locator('button[data-action="arrived"]')).to_have_count(0)
    assert (await incident_state(demo.ctx, incident_id)).arrived_at is not None
    resolve = card.locator('button[data-action="resolved"]')
    await resolve.click()
    await expect(page.locator("#task-error")).to_have_text(
        "请选择处置结果。" if lang == "zh-CN" else "Choose an outcome."
    )
    await card.locator('select[name="outcome"]').select_option("resident_well")
    await card.locator('textarea[name="note"]').fill(
        "老人平安，已嘱咐家属" if lang == "zh-CN" else "resident is well"
    )
    async with page.expect_navigation():
        await resolve.click()
    await expect(page.locator(".task-card")).to_have_count(0)
    await expect(page.locator("#no-tasks")).to_be_visible()
    await expect(page.locator("table.data")).to_contain_text(f"#{incident_id}")
    await fits_the_phone(page)
    await shoot(page, f"responder-02-done-{lang}")
    done = await incident_state(demo.ctx, incident_id)
    assert done.state == "resolved" and done.outcome == "resident_well"
    await context.close()


async def _dispatch_to_grid_worker(srv: LiveServer, household_id: str) -> int:
    """An operator sends the home's grid worker to a fresh button press, as the console does."""
    now = srv.ctx.clock.now()
    async with transaction(srv.ctx.db) as session:
        operator = await session.scalar(select(User).where(User.username == "operator"))
        grid = await session.scalar(
            select(Contact.id).where(Contact.household_id == household_id, Contact.relation == "grid_worker")
        )
        assert operator is not None and grid is not None
        found = Finding(
            household_id=household_id,
            rule=Rule.BUTTON,
            severity=Severity.CRITICAL,
            at=now,
            key=f"t:{household_id}",
        )
        incident = (await service.raise_findings(session, [found], now=now)).opened[0]
        for to, who in (
            (IncidentState.ACKNOWLEDGED, None),
            (IncidentState.DISPATCHED, service.Responder(contact_id=grid)),
        ):
            await service.transition(
                session, incident.id, to=to, actor="operator", now=now, user=operator, responder=who
            )
        return incident.id


async def test_the_village_grid_worker_sees_what_is_sent_to_them_in_any_home_of_the_village(
    browser: Browser, template: Path, tmp_path: Path
) -> None:
    fleet = build_fleet(13, 1)  # homes 0 and 12 share the first village (and its grid worker)
    async with live_server(fresh_database(template, tmp_path)) as srv:
        async with transaction(srv.ctx.db) as session:
            await register_fleet(session, fleet, srv.ctx.clock.now())
        await seed_users(srv.ctx)
        same_village = await _dispatch_to_grid_worker(srv, fleet.households[12].id)
        next_village = await _dispatch_to_grid_worker(srv, fleet.households[1].id)
        context, page = await new_page(browser, srv.base_url, phone=True)
        await sign_in(page, "responder", lang="zh-CN", password=DEMO_PASSWORD)
        card = page.locator(f'.task-card[data-id="{same_village}"]')
        await expect(card).to_be_visible()
        await expect(page.locator(f'.task-card[data-id="{next_village}"]')).to_have_count(0)
        await fits_the_phone(page)
        await shoot(page, "responder-03-village-zh-CN")
        async with page.expect_navigation():
            await card.locator('button[data-action="arrived"]').click()
        await card.locator('select[name="outcome"]').select_option("resident_well")
        await card.locator('textarea[name="note"]').fill("老人平安")
        async with page.expect_navigation():
            await card.locator('button[data-action="resolved"]').click()
        await expect(page.locator(".task-card")).to_have_count(0)
        done = await incident_state(srv.ctx, same_village)
        assert done.state == "resolved" and done.arrived_at is not None
        assert (await incident_state(srv.ctx, next_village)).state == "dispatched"
        await context.close()
