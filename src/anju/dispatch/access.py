"""Who may see and do what with an incident (the routes turn a refusal into HTTP 403).

- Operators act. The first to acknowledge owns the incident (首问责任制): until it is resolved only
  the owner moves it on; after resolution the follow-up is queue work any operator may do.
- Responders see and act only on incidents dispatched to them: to their linked contact
  (``User.contact_id``) or to another contact row that is the same person (the same normalized phone
  number: a grid worker is a contact in every home they serve). Record arrival, add notes, resolve.
- Supervisors read everything and may hand an incident over; they do not move states.
- Admins may do everything.
"""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.domain import TRANSITIONS, IncidentState, Role
from anju.notify.phone import normalize_phone
from anju.store.models import Contact, Incident, User

STAFF_ROLES = frozenset({Role.OPERATOR.value, Role.SUPERVISOR.value, Role.ADMIN.value})
#: States in which the owner alone (or an admin) may act.
OWNED_STATES = frozenset({IncidentState.ACKNOWLEDGED.value, IncidentState.DISPATCHED.value})


#: Where ``resolve_responder`` keeps a user's contact rows: on the loaded row's state, one request long.
_CONTACTS_KEY = "anju.responder_contacts"
#: Digits of the stored number that narrow the rows in SQL; the normalized number then decides.
_SUFFIX_DIGITS = 4


async def resolve_responder(session: AsyncSession, user: User) -> frozenset[int]:
    """Find (once per loaded user) the contact rows that are the responder ``user``.

    Their linked contact, and every row with the same normalized phone number. A linked contact
    without a number is that one row only: no phone, no claim on anybody else's incidents.
    """
    if user.role != Role.RESPONDER.value or user.contact_id is None:
        return frozenset()
    linked = await session.get(Contact, user.contact_id)
    if linked is None:
        ids: frozenset[int] = frozenset()
    else:
        ids = frozenset({linked.id}) | await _same_number(session, linked.phone or "")
    inspect(user).info[_CONTACTS_KEY] = ids
    return ids


async def _same_number(session: AsyncSession, phone: str) -> frozenset[int]:
    number = normalize_phone(phone)
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < _SUFFIX_DIGITS:
        return frozenset()
    # Stored numbers may keep separators ("+86 138 0013 8000"); their last digits rarely do.
    rows = await session.execute(
        select(Contact.id, Contact.phone).where(Contact.phone.like(f"%{digits[-_SUFFIX_DIGITS:]}"))
    )
    return frozenset(cid for cid, other in rows if other and normalize_phone(other) == number)


def responder_contacts(user: User) -> frozenset[int]:
    """The contact rows whose incidents ``user`` is sent to (their linked row alone if not resolved)."""
    if user.role != Role.RESPONDER.value or user.contact_id is None:
        return frozenset()
    resolved = inspect(user).info.get(_CONTACTS_KEY)
    return resolved if isinstance(resolved, frozenset) else frozenset({user.contact_id})


def is_dispatched_to(user: User, incident: Incident) -> bool:
    return incident.responder_contact_id is not None and incident.responder_contact_id in responder_contacts(
        user
    )


def can_view(user: User, incident: Incident) -> bool:
    return user.role in STAFF_ROLES or is_dispatched_to(user, incident)


def _owner_refusal(user: User, incident: Incident) -> str | None:
    if incident.state in OWNED_STATES and incident.owner_id not in (None, user.id):
        return (
            f"incident {incident.id} is owned by another operator; ask them or a supervisor to hand it over"
        )
    return None


def transition_refusal(user: User, incident: Incident, to: IncidentState) -> str | None:
    """Why ``user`` may not move ``incident`` to ``to`` (None: allowed, if the edge exists)."""
    if user.role == Role.ADMIN.value:
        return None
    if user.role == Role.OPERATOR.value:
        return None if to is IncidentState.ACKNOWLEDGED else _owner_refusal(user, incident)
    if user.role == Role.RESPONDER.value:
        if not is_dispatched_to(user, incident):
            return "this incident is not dispatched to you"
        if incident.state == IncidentState.DISPATCHED.value and to is IncidentState.RESOLVED:
            return None
        return "a responder may only resolve an incident dispatched to them"
    return f"role {user.role!r} reads incidents but does not move them"


def allowed_transitions(user: User, incident: Incident) -> list[str]:
    """The edges ``user`` may take now, for the console's buttons."""
    current = IncidentState(incident.state)
    return sorted(to.value for to in TRANSITIONS[current] if transition_refusal(user, incident, to) is None)


def act_refusal(user: User, incident: Incident) -> str | None:
    """Arrival and notes: the handling operator, an admin, or the responder sent there."""
    if user.role == Role.ADMIN.value:
        return None
    if user.role == Role.OPERATOR.value:
        return _owner_refusal(user, incident) if incident.state == IncidentState.DISPATCHED.value else None
    if is_dispatched_to(user, incident):
        return None
    if user.role == Role.RESPONDER.value:
        return "this incident is not dispatched to you"
    return f"role {user.role!r} reads incidents but does not act on them"


def note_refusal(user: User, incident: Incident) -> str | None:
    """Any operator may add to the record; the responder sent there too."""
    if user.role in (Role.ADMIN.value, Role.OPERATOR.value) or is_dispatched_to(user, incident):
        return None
    if user.role == Role.RESPONDER.value:
        return "this incident is not dispatched to you"
    return f"role {user.role!r} reads incidents but does not act on them"


def transfer_refusal(user: User, incident: Incident) -> str | None:
    if user.role in (Role.ADMIN.value, Role.SUPERVISOR.value):
        return None
    if user.role == Role.OPERATOR.value:
        if incident.owner_id in (None, user.id):
            return None
        return "only the owner or a supervisor hands an incident over"
    return f"role {user.role!r} does not hand incidents over"


def follow_up_refusal(user: User) -> str | None:
    if user.role in (Role.ADMIN.value, Role.OPERATOR.value):
        return None
    return f"role {user.role!r} does not settle follow-ups"
