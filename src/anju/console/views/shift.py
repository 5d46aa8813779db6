"""The shift's pages: the area overview, follow-ups (overdue first) and the shift hand-over."""

from __future__ import annotations

import hmac
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from anju.console import overview
from anju.console.page import Page, signed_in_page
from anju.console.views.reports import fmt_duration
from anju.domain import ACTIVE_STATES, IncidentState
from anju.store.db import transaction
from anju.web.deps import CSRF_COOKIE, CSRF_HEADER
from anju.web.session import STAFF_ROLES

router = APIRouter(include_in_schema=False)


@router.get("/areas")
async def areas_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    async with page.ctx.db() as session:
        rows = await overview.area_overview(session, now=page.ctx.clock.now())
    return page.render("areas.html", title_key="title.areas", nav="areas", rows=rows)


@router.get("/follow-ups")
async def follow_ups_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    async with page.ctx.db() as session:
        rows = await overview.follow_up_list(session, now=page.ctx.clock.now())
    overdue = [r for r in rows if r.overdue_s > 0]
    upcoming = [r for r in rows if r.overdue_s <= 0]
    return page.render(
        "follow_ups.html",
        title_key="title.follow_ups",
        nav="follow_ups",
        overdue=overdue,
        upcoming=upcoming,
        dur=lambda s: fmt_duration(page, s),
    )


def _counts(states: list[str]) -> dict[str, int]:
    counted = Counter(states)
    return {s.value: counted.get(s.value, 0) for s in IncidentState if s is not IncidentState.CLOSED}


@router.get("/handover")
async def handover_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    async with page.ctx.db() as session:
        items = await overview.open_items(session)
        notes = await overview.recent_handovers(session)
    active = {s.value for s in ACTIVE_STATES}
    return page.render(
        "handover.html",
        title_key="title.handover",
        nav="handover",
        active=[i for i in items if i[0].state in active],
        closing=[i for i in items if i[0].state not in active],
        counts=_counts([i[0].state for i in items]),
        handovers=notes,
        handover_config={"url": "/handover"},
    )


@router.post("/handover")
async def post_handover(request: Request) -> Response:
    """Leave a note for the next shift; the open items of this moment are recorded with it (audited)."""
    # The console's cookie is sent by any site's form: the double-submit header proves it is ours.
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(
        expected.encode(), request.headers.get(CSRF_HEADER, "").encode()
    ):
        return JSONResponse({"detail": "missing or wrong CSRF token"}, status_code=403)
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page) or page.user is None:
        return JSONResponse({"detail": "not signed in or not staff"}, status_code=403)
    try:
        body: Any = await request.json()
    except ValueError:
        return JSONResponse({"detail": "body must be JSON"}, status_code=422)
    note = str(body.get("note") or "").strip() if isinstance(body, dict) else ""
    if not note:
        return JSONResponse({"detail": "write a note for the next shift"}, status_code=422)
    if len(note) > overview.MAX_HANDOVER_NOTE:
        return JSONResponse({"detail": f"at most {overview.MAX_HANDOVER_NOTE} characters"}, status_code=422)
    now = page.ctx.clock.now()
    async with transaction(page.ctx.db) as session:
        items = await overview.open_items(session)
        record = await overview.record_handover(
            session,
            actor=page.user.username,
            note=note,
            now=now,
            open_ids=[i[0].id for i in items],
            counts=_counts([i[0].state for i in items]),
        )
        record_id = record.id
    return JSONResponse({"ok": True, "audit_id": record_id, "open_incidents": len(items)})
