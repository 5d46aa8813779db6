"""The demo's first task for its responder login: one incident dispatched to the contact it acts as.

The demo's responder is the first village's grid worker (``User.contact_id``, the same person as the
grid worker of every home in that village: ``dispatch.access``). Incidents reach a responder only
when the center dispatches them, so on a fresh demo the responder's task list was
empty; this puts one there, raised, acknowledged by the demo's operator and dispatched to that
contact exactly as the console does it, so every step is on the timeline and in the audit log.
"""

from __future__ import annotations

from sqlalchemy import select

from anju.context import Context
from anju.dispatch import service
from anju.domain import IncidentState, Role, Rule, Severity
from anju.engine.model import Finding
from anju.store.db import transaction
from anju.store.models import Contact, Device, Incident, User

DEMO_TASK_NOTE = "演示：派网格员上门查看 / demo: grid worker sent to check"


async def seed_responder_task(ctx: Context) -> int | None:
    """The id of the incident dispatched to the demo's responder (raised now if none is open)."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        responder = await session.scalar(select(User).where(User.role == Role.RESPONDER.value).limit(1))
        operator = await session.scalar(select(User).where(User.role == Role.OPERATOR.value).limit(1))
        if responder is None or operator is None or responder.contact_id is None:
            return None
        contact = await session.get(Contact, responder.contact_id)
        if contact is None:
            return None
        existing = await session.scalar(
            select(Incident.id).where(
                Incident.responder_contact_id == contact.id,
                Incident.state != IncidentState.CLOSED.value,
            )
        )
        if existing is not None:
            return int(existing)
        button = await session.scalar(
            select(Device.id).where(Device.household_id == contact.household_id, Device.type == "button")
        )
        finding = Finding(
            household_id=contact.household_id,
            rule=Rule.BUTTON,
            severity=Severity.CRITICAL,
            at=now,
            key=f"demo-task:{contact.id}:{now.isoformat()}",
            detail={"event": "press", "demo": True},
            device_id=button,
        )
        result = await service.raise_findings(session, [finding], now=now, bus=ctx.bus)
        incident = (result.opened + result.joined)[0]
        actor = operator.username
        await service.transition(
            session,
            incident.id,
            to=IncidentState.ACKNOWLEDGED,
            actor=actor,
            now=now,
            user=operator,
            bus=ctx.bus,
        )
        await service.transition(
            session,
            incident.id,
            to=IncidentState.DISPATCHED,
            actor=actor,
            now=now,
            note=DEMO_TASK_NOTE,
            user=operator,
            responder=service.Responder(contact_id=contact.id),
            bus=ctx.bus,
        )
        return incident.id
