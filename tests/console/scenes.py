"""Scenes for the console's triage, phone and label tests: incidents of a given age, rule and area."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from playwright.async_api import Page, expect
from sqlalchemy import select, update

from anju.context import Context
from anju.dispatch import service
from anju.domain import IncidentState, Rule, Severity
from anju.engine.model import Finding
from anju.store.db import transaction
from anju.store.models import Incident, User
from tests.support.browser import PASSWORD, Home

PHONE_WIDTH = 390


async def raise_incident(
    ctx: Context,
    home: Home,
    *,
    rule: Rule = Rule.BUTTON,
    severity: Severity = Severity.CRITICAL,
    age_s: int = 0,
) -> int:
    """An incident as the engine raises it, opened ``age_s`` seconds ago."""
    now = ctx.clock.now()
    finding = Finding(
        household_id=home.household_id,
        rule=rule,
        severity=severity,
        at=now,
        key=f"{rule}:{uuid.uuid4().hex[:8]}",
        detail={"device": home.pir_id, "location": "living_room", "event": "motion"},
        device_id=home.pir_id,
    )
    async with transaction(ctx.db) as session:
        result = await service.raise_findings(session, [finding], now=now, bus=ctx.bus)
        incident = (result.opened + result.joined)[0]
        if age_s:
            await session.execute(
                update(Incident)
                .where(Incident.id == incident.id)
                .values(opened_at=now - timedelta(seconds=age_s))
            )
        return incident.id


async def move(
    ctx: Context,
    incident_id: int,
    to: IncidentState,
    username: str,
    *,
    note: str = "",
    outcome: str | None = None,
    responder: service.Responder | None = None,
) -> None:
    """A transition by ``username`` as the API makes it."""
    async with transaction(ctx.db) as session:
        user = await session.scalar(select(User).where(User.username == username))
        await service.transition(
            session,
            incident_id,
            to=to,
            actor=username,
            now=ctx.clock.now(),
            note=note,
            outcome=outcome,
            user=user,
            responder=responder,
            bus=ctx.bus,
        )


async def sign_in(
    page: Page, username: str, *, lang: str = "zh-CN", start: str = "/", password: str = PASSWORD
) -> None:
    await page.goto(f"/login?lang={lang}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await expect(page).not_to_have_url(re.compile(r"/login"))
    if start != "/":
        await page.goto(start)


async def fits_the_phone(page: Page) -> None:
    """Nothing makes the page wider than the phone (a table may scroll inside its card)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide at {PHONE_WIDTH}px"
