"""The households list and one household: residents, contacts, devices, activity heatmap, events."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import Response

from anju.console import charts, queries
from anju.console.page import Page, signed_in_page
from anju.web.session import STAFF_ROLES

HOUSEHOLD_EVENT_HOURS = 24

router = APIRouter(include_in_schema=False)


@router.get("/households")
async def households_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    q = request.query_params.get("q", "").strip()[:100]
    async with page.ctx.db() as session:
        households, total, open_incidents = await queries.household_list(session, search=q)
    return page.render(
        "households.html",
        title_key="title.households",
        nav="households",
        q=q,
        households=households,
        total=total,
        open_incidents=open_incidents,
    )


def _zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


@router.get("/households/{household_id}")
async def household_page(request: Request, household_id: str) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    now = page.ctx.clock.now()
    async with page.ctx.db() as session:
        h = await queries.household_with_people(session, household_id)
        if h is None:
            return page.error(404, "error.not_found")
        tz = _zone(h.timezone, page.ctx.settings.tz)
        labels, counts = await queries.activity_counts(session, h.id, now=now, tz=tz)
        events = await queries.household_events(
            session, h.id, since=now - timedelta(hours=HOUSEHOLD_EVENT_HOURS), limit=300
        )
        incidents = await queries.household_incidents(session, h.id)
    return page.render(
        "household.html",
        title_key="title.household",
        nav="households",
        h=h,
        heatmap=charts.heatmap(labels, counts, page.t),
        tz_name=str(tz),
        events=events,
        timeline_hours=HOUSEHOLD_EVENT_HOURS,
        incidents=incidents,
        locations={d.id: d.location or d.id for d in h.devices},
        low_battery=queries.LOW_BATTERY_PERCENT,
        request_saved=request.query_params.get("saved") == "1",
    )
