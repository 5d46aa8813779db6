"""Creating and editing a household, its residents and contacts in the console.

The page is a form over the API (``POST /api/v1/households``, ``PATCH /api/v1/households/{id}``):
one request, one transaction, one audit record; a refused value changes nothing and its reason is
shown next to the form. The key holder and access notes are not sent to the page: the form reads
them through the audited access endpoint when the operator asks to change them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from anju.console import queries
from anju.console.page import Page, signed_in_page
from anju.domain import Role
from anju.store.households import contact_snapshot, resident_snapshot
from anju.store.models import Household
from anju.vocabulary import HEARING, MOBILITY

router = APIRouter(include_in_schema=False)

#: Who may create and edit households (the API's ``DETAIL_EDITORS``).
EDITORS = frozenset({Role.OPERATOR.value, Role.ADMIN.value})
RELATIONS = (
    "family",
    "son",
    "daughter",
    "spouse",
    "neighbour",
    "grid_worker",
    "community",
    "doctor",
    "other",
)
LANGUAGES = ("zh-CN", "en")


def _existing(h: Household) -> dict[str, Any]:
    return {
        "id": h.id,
        "name": h.name,
        "address": h.address,
        "area": h.area,
        "timezone": h.timezone,
        "notes": h.notes,
        "translations": h.translations or {},
        "has_access_notes": h.has_access_notes,
        "residents": [resident_snapshot(r) for r in h.residents],
        "contacts": [contact_snapshot(c) for c in h.contacts],
    }


def _render(page: Page, household: Household | None) -> Response:
    config = {
        "mode": "edit" if household else "new",
        "api_url": f"/api/v1/households/{household.id}" if household else "/api/v1/households",
        "access_url": f"/api/v1/households/{household.id}/access" if household else "",
        "household": _existing(household) if household else None,
        "default_timezone": str(page.ctx.settings.tz),
    }
    return page.render(
        "household_edit.html",
        title_key="edit.edit" if household else "edit.title_new",
        nav="households",
        h=household,
        edit_config=config,
        mobility=list(MOBILITY),
        hearing=list(HEARING),
        relations=RELATIONS,
        languages=LANGUAGES,
    )


@router.get("/households/new")
async def new_household_page(request: Request) -> Response:
    page = await signed_in_page(request, EDITORS)
    if not isinstance(page, Page):
        return page
    return _render(page, None)


@router.get("/households/{household_id}/edit")
async def edit_household_page(request: Request, household_id: str) -> Response:
    page = await signed_in_page(request, EDITORS)
    if not isinstance(page, Page):
        return page
    async with page.ctx.db() as session:
        household = await queries.household_with_people(session, household_id)
    if household is None:
        return page.error(404, "error.not_found")
    return _render(page, household)
