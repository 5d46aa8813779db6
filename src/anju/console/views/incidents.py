"""The live queue (a responder's own incidents instead) and the incident page with its actions."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from anju import vocabulary
from anju.clock import isoformat
from anju.console import queries
from anju.console.checkin_lane import checkins_in_progress
from anju.console.localize import localized
from anju.console.page import Page, signed_in_page
from anju.console.responder import responder_actions
from anju.console.views.resident import resident_context
from anju.dispatch import access
from anju.dispatch.service import HANDLER_ROLES, ResponderKind
from anju.dispatch.sla import ACK_TARGETS_S
from anju.domain import IncidentState, Outcome, Role, Severity
from anju.store.models import Contact, Household, Incident, Notification
from anju.vocabulary import title_word
from anju.web.session import ACTING_ROLES, STAFF_ROLES

INCIDENT_EVENT_HOURS = queries.INCIDENT_EVENT_HOURS
#: Transition buttons in loop order, each with its keyboard key.
TRANSITION_ORDER = tuple(s.value for s in IncidentState if s is not IncidentState.OPEN)
TRANSITION_KEYS = {"acknowledged": "a", "dispatched": "d", "resolved": "x", "follow_up": "u", "closed": "c"}
RESPONDER_KINDS = tuple(k.value for k in ResponderKind)
HANDOVER_CLOSED_STATES = frozenset({IncidentState.OPEN.value, IncidentState.CLOSED.value})
#: The queue's orders and area groupings (``?sort=`` and ``?group=``; triage.js reads them).
QUEUE_SORTS = ("priority", "age", "newest", "severity", "area")
QUEUE_GROUPINGS = ("none", "district", "town", "village")

router = APIRouter(include_in_schema=False)


@router.get("/")
async def queue_page(request: Request) -> Response:
    page = await signed_in_page(request)
    if not isinstance(page, Page):
        return page
    assert page.user is not None
    if page.user.role == Role.RESPONDER.value:
        return await _my_incidents(page)
    config = {
        "snapshot_url": "/api/v1/stream/queue",
        "stream_url": "/api/v1/stream",
        "can_act": page.user.role in ACTING_ROLES,
        "server_now": isoformat(page.ctx.clock.now()),
        "user_id": page.user.id,
        "can_assign": page.user.role in HANDLER_ROLES,
        "is_admin": page.user.role == Role.ADMIN.value,
        "ack_marks": list(ACK_TARGETS_S),
    }
    lane = await checkins_in_progress(page.ctx)
    return page.render(
        "queue.html",
        title_key="title.queue",
        nav="queue",
        queue_config=config,
        states=[s.value for s in queries.QUEUE_ORDER],
        severities=[s.value for s in Severity],
        rules=list(vocabulary.RULES),
        sorts=QUEUE_SORTS,
        groupings=QUEUE_GROUPINGS,
        ack_marks=ACK_TARGETS_S,
        checkin_lane=lane,
    )


async def _my_incidents(page: Page) -> Response:
    """The responder's tasks: what is dispatched to them (address, people to call, arrived/resolved)."""
    assert page.user is not None
    tasks: list[tuple[Incident, Household | None, list[str]]] = []
    done: list[Incident] = []
    mine = access.responder_contacts(page.user)  # the rule of dispatch.access, also the API's
    if mine:
        async with page.ctx.db() as session:
            incidents = (
                await session.scalars(
                    select(Incident)
                    .where(Incident.responder_contact_id.in_(mine))
                    .order_by(Incident.opened_at.desc())
                    .limit(50)
                )
            ).all()
            for inc in incidents:
                if inc.state != IncidentState.DISPATCHED.value:
                    done.append(inc)
                    continue
                home = await queries.household_with_people(session, inc.household_id)
                tasks.append((inc, home, responder_actions(inc, mine)))
    return page.render(
        "my_incidents.html",
        title_key="title.my_incidents",
        nav="queue",
        tasks=tasks,
        done=done,
        outcomes=[o.value for o in Outcome],
    )


def recipient_names(
    notifications: Sequence[Notification], contacts: Sequence[Contact], lang: str
) -> dict[int, str]:
    """Who each notification went to, in ``lang``: a contact by their rendering, a post (值班主管) by
    the vocabulary's; a name changed since the message went out stays as it was sent."""
    contact_names = {c.id: (c.name, localized(c, "name", lang)) for c in contacts}
    names = {}
    for n in notifications:
        stored, rendered = contact_names.get(n.contact_id or 0, ("", ""))
        same = bool(stored) and stored == n.recipient_name
        names[n.id] = rendered if same else title_word(n.recipient_name, lang)
    return names


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: int) -> Response:
    page = await signed_in_page(request)
    if not isinstance(page, Page):
        return page
    user = page.user
    assert user is not None
    async with page.ctx.db() as session:
        view = await queries.incident_view(
            session, incident_id, now=page.ctx.clock.now(), hours=INCIDENT_EVENT_HOURS
        )
        # A responder learns nothing of incidents not dispatched to them: the same 404 as the API.
        if view is None or not access.can_view(user, view.incident):
            return page.error(404, "error.not_found")
        inc = view.incident
        # Hand-over (supervisors, admins, the owner) runs between acknowledgement and closing.
        can_hand_over = access.transfer_refusal(user, inc) is None and inc.state not in HANDOVER_CLOSED_STATES
        candidates = await queries.handover_candidates(session, exclude=inc.owner_id) if can_hand_over else []
    # The buttons are exactly the API's allowed list for this user, in loop order.
    permitted = set(access.allowed_transitions(user, inc))
    allowed = [s for s in TRANSITION_ORDER if s in permitted]
    settled = inc.follow_up_done_at is not None or bool(inc.follow_up_waived_reason)
    can_settle = (
        access.follow_up_refusal(user) is None
        and inc.state in (IncidentState.RESOLVED.value, IncidentState.FOLLOW_UP.value)
        and inc.follow_up_due_at is not None
        and not settled
    )
    can_arrive = (
        inc.state == IncidentState.DISPATCHED.value
        and inc.arrived_at is None
        and access.act_refusal(user, inc) is None
    )
    can_note = access.note_refusal(user, inc) is None and inc.state != IncidentState.CLOSED.value
    config = {
        "id": inc.id,
        "state": inc.state,
        "transitions_url": f"/api/v1/incidents/{inc.id}/transitions",
        "arrival_url": f"/api/v1/incidents/{inc.id}/arrival",
        "notes_url": f"/api/v1/incidents/{inc.id}/notes",
        "follow_up_url": f"/api/v1/incidents/{inc.id}/follow-up",
        "follow_up_due": inc.follow_up_due_at is not None and not settled,
        "owner_url": f"/api/v1/incidents/{inc.id}/owner",
        "snapshot_url": "/api/v1/stream/queue",
        "stream_url": "/api/v1/stream",
        "watch_queue": user.role in STAFF_ROLES,
    }
    can_act = bool(allowed) or can_arrive or can_settle or can_note
    return page.render(
        "incident.html",
        title_key="title.incident",
        nav="queue",
        inc=inc,
        household=view.household,
        owner_name=(
            (title_word(view.owner.display_name, page.lang) or view.owner.username) if view.owner else None
        ),
        alerts=view.alerts,
        timeline=view.timeline,
        notifications=view.notifications,
        recipient_names=recipient_names(view.notifications, view.household.contacts, page.lang),
        sensor_events=view.sensor_events,
        locations=view.locations,
        event_hours=INCIDENT_EVENT_HOURS,
        can_act=can_act,
        allowed=allowed,
        can_arrive=can_arrive,
        can_settle=can_settle,
        can_note=can_note,
        transition_keys=TRANSITION_KEYS,
        outcomes=[o.value for o in Outcome],
        responder_kinds=RESPONDER_KINDS,
        incident_config=config,
        can_hand_over=can_hand_over and bool(candidates),
        candidates=candidates,
        **resident_context(page, inc, view.household),
    )
