"""The installers' work list: offline, low-battery and unknown devices, and dead letters."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from anju.console import queries
from anju.console.page import Page, signed_in_page
from anju.web.session import STAFF_ROLES

router = APIRouter(include_in_schema=False)


def _payload_head(raw: bytes | None) -> str:
    if not raw:
        return ""
    return raw[:160].decode("utf-8", errors="replace")


@router.get("/devices")
async def devices_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    async with page.ctx.db() as session:
        work = await queries.device_work_list(session, now=page.ctx.clock.now())
    return page.render(
        "devices.html",
        title_key="title.devices",
        nav="devices",
        offline=work.offline,
        low=work.low_battery,
        unknown=work.unknown,
        dead=work.dead_letters,
        dead_total=work.dead_total,
        names=work.household_names,
        low_battery=queries.LOW_BATTERY_PERCENT,
        head=_payload_head,
    )
