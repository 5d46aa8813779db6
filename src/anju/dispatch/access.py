"""Who may see and do what with an incident (the routes turn a refusal into HTTP 403).

- Operators act. The first to acknowledge owns the incident (首问责任制): until it is resolved only
  the owner moves it on; after resolution the follow-up is queue work any operator may do.
- Responders see and act only on incidents dispatched to them (``User.contact_id`` is
  ``incident.responder_contact_id``): record arrival, add notes, resolve.
- Supervisors read everything and may hand an incident over; they do not move states.
- Admins may do everything.
"""

from __future__ import annotations

from anju.domain import TRANSITIONS, IncidentState, Role
from anju.store.models import Incident, User

STAFF_ROLES = frozenset({Role.OPERATOR.value, Role.SUPERVISOR.value, Role.ADMIN.value})
#: States in which the owner alone (or an admin) may act.
OWNED_STATES = frozenset({IncidentState.ACKNOWLEDGED.value, IncidentState.DISPATCHED.value})


def is_dispatched_to(user: User, incident: Incident) -> bool:
    return (
        user.role == Role.RESPONDER.value
        and user.contact_id is not None
        and incident.responder_contact_id == user.contact_id
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
