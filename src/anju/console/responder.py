"""The responder's phone page, reached by the signed short link in their SMS: ``/r/{token}``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm.exc import StaleDataError

from anju.console import queries
from anju.console.links import InvalidLink, ResponderGrant, read_responder_token
from anju.console.page import Page
from anju.context import Context
from anju.dispatch import service
from anju.domain import IncidentState, Outcome
from anju.errors import Conflict, InvalidTransition, NotFound
from anju.store.db import transaction
from anju.store.models import Contact, Incident
from anju.web.deps import CSRF_HEADER, get_context

router = APIRouter(include_in_schema=False)
#: What a responder on site may do, by the incident's state.
ARRIVE, RESOLVE = "arrived", "resolved"


def responder_actions(incident: Incident, contact_ids: Collection[int]) -> list[str]:
    """Arrival and resolution, for the contact(s) the incident is dispatched to, while it is dispatched."""
    if incident.responder_contact_id not in contact_ids or incident.state != IncidentState.DISPATCHED.value:
        return []
    actions = [] if incident.arrived_at is not None else [ARRIVE]
    return [*actions, RESOLVE]


async def _grant(ctx: Context, token: str) -> ResponderGrant | str:
    try:
        return read_responder_token(ctx.settings, token, now=ctx.clock.now())
    except InvalidLink as err:
        return f"error.link_{err.reason}"


def _may_view(incident: Incident, contact: Contact | None) -> bool:
    # The link's contact must belong to this household or be the responder sent there.
    if contact is None:
        return False
    return contact.household_id == incident.household_id or incident.responder_contact_id == contact.id


@router.get("/r/{token}")
async def responder_page(request: Request, token: str) -> Response:
    ctx = get_context(request)
    page = Page(request, ctx, None)
    grant = await _grant(ctx, token)
    if isinstance(grant, str):
        return page.error(403 if grant != "error.link_malformed" else 404, grant)
    async with ctx.db() as session:
        view = await queries.incident_view(
            session, grant.incident_id, now=ctx.clock.now(), hours=queries.INCIDENT_EVENT_HOURS
        )
        contact = await session.get(Contact, grant.contact_id)
    if view is None or not _may_view(view.incident, contact):
        return page.error(403, "error.link_not_yours")
    assert contact is not None
    inc = view.incident
    config = {"action_url": f"/r/{token}/actions", "csrf_header": CSRF_HEADER}
    return page.render(
        "responder.html",
        title_key="title.responder",
        inc=inc,
        household=view.household,
        contact=contact,
        expires_at=grant.expires_at,
        actions=responder_actions(inc, {contact.id}),
        outcomes=[o.value for o in Outcome],
        center_phone=None,
        responder_config=config,
    )


def _problem(status: int, key: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"detail": detail or key, "key": key}, status_code=status)


@router.post("/r/{token}/actions")
async def responder_action(request: Request, token: str) -> Response:
    """Arrival or resolution from the phone page; the signed link is the credential."""
    ctx = get_context(request)
    # The link is a bearer secret; the custom header still keeps plain cross-site forms out.
    if request.headers.get(CSRF_HEADER) != "responder":
        return _problem(403, "action.forbidden", "missing X-CSRF-Token: responder")
    grant = await _grant(ctx, token)
    if isinstance(grant, str):
        return _problem(403, grant)
    try:
        body: Any = await request.json()
    except ValueError:
        return _problem(422, "action.failed", "body must be JSON")
    action = body.get("action") if isinstance(body, dict) else None
    note = str(body.get("note") or "")[: service.MAX_NOTE] if isinstance(body, dict) else ""
    outcome = body.get("outcome") if isinstance(body, dict) else None
    now = ctx.clock.now()
    try:
        async with transaction(ctx.db) as session:
            incident = await service.lock_incident(session, grant.incident_id)
            contact = await session.get(Contact, grant.contact_id)
            if contact is None or action not in responder_actions(incident, {contact.id}):
                return _problem(403, "error.link_not_yours", f"{action!r} is not open to this link now")
            actor = f"responder:{contact.name}"
            if action == ARRIVE:
                await service.record_arrival(
                    session, incident.id, actor=actor, now=now, note=note, bus=ctx.bus
                )
            else:
                await service.transition(
                    session,
                    incident.id,
                    to=IncidentState.RESOLVED,
                    actor=actor,
                    now=now,
                    note=note,
                    outcome=str(outcome or ""),
                    bus=ctx.bus,
                )
    except service.InvalidRequest as err:
        return _problem(422, "action.failed", str(err))
    except (StaleDataError, InvalidTransition, Conflict) as err:
        return _problem(409, "action.conflict", str(err))
    except NotFound as err:
        return _problem(404, "error.not_found", str(err))
    return JSONResponse({"ok": True, "action": action})
