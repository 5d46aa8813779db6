"""Editing a household's contacts keeps who they are: responders and incidents stay linked."""

from __future__ import annotations

from sqlalchemy import select

from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import Contact, Incident, User
from tests.support.api import household_body, signed_in


async def test_reordering_and_renaming_contacts_keeps_their_ids_and_responder_links(ctx: Context) -> None:
    async with signed_in(ctx, Role.ADMIN) as admin:
        body = household_body("h-c1")
        body["contacts"] = [
            {"name": "李明", "phone": "+8613900002222", "relation": "family", "priority": 0},
            {"name": "张阿姨", "phone": "+8613900003333", "relation": "neighbour", "priority": 1},
        ]
        assert (await admin.post("/api/v1/households", json=body)).status_code == 201
        async with ctx.db() as session:
            before = {c.phone: c.id for c in (await session.scalars(select(Contact))).all()}
        async with transaction(ctx.db) as session:
            neighbour = before["+8613900003333"]
            session.add(
                User(
                    username="zhang",
                    password_hash="x",
                    role="responder",
                    contact_id=neighbour,
                    created_at=ctx.clock.now(),
                )
            )
            session.add(
                Incident(
                    household_id="h-c1",
                    state="dispatched",
                    severity="high",
                    rule="inactivity",
                    opened_at=ctx.clock.now(),
                    updated_at=ctx.clock.now(),
                    responder_contact_id=neighbour,
                    responder_name="张阿姨",
                )
            )

        # The neighbour becomes first to call and is renamed; the family member's number changes.
        edit = {
            "contacts": [
                {"name": "张阿姨（邻居）", "phone": "+8613900003333", "relation": "neighbour", "priority": 0},
                {"name": "李明", "phone": "+8613900004444", "relation": "family", "priority": 1},
            ]
        }
        resp = await admin.patch("/api/v1/households/h-c1", json=edit)
        assert resp.status_code == 200, resp.text

    async with ctx.db() as session:
        after = {c.phone: (c.id, c.name, c.priority) for c in (await session.scalars(select(Contact))).all()}
        responder = await session.scalar(select(User).where(User.username == "zhang"))
        incident = await session.scalar(select(Incident).where(Incident.household_id == "h-c1"))
    assert after["+8613900003333"] == (neighbour, "张阿姨（邻居）", 0)
    assert after["+8613900004444"][0] not in before.values()
    assert "+8613900002222" not in after
    assert responder is not None and responder.contact_id == neighbour
    assert incident is not None and incident.responder_contact_id == neighbour


async def test_removing_a_contact_an_incident_points_at_clears_the_link_not_the_edit(ctx: Context) -> None:
    async with signed_in(ctx, Role.ADMIN) as admin:
        body = household_body("h-c2")
        body["contacts"] = [{"name": "李明", "phone": "+8613900002222", "relation": "family", "priority": 0}]
        assert (await admin.post("/api/v1/households", json=body)).status_code == 201
        async with ctx.db() as session:
            contact_id = await session.scalar(select(Contact.id).where(Contact.household_id == "h-c2"))
        async with transaction(ctx.db) as session:
            session.add(
                Incident(
                    household_id="h-c2",
                    state="resolved",
                    severity="high",
                    rule="inactivity",
                    opened_at=ctx.clock.now(),
                    updated_at=ctx.clock.now(),
                    responder_contact_id=contact_id,
                    responder_name="李明",
                )
            )
        edit = {
            "contacts": [{"name": "王芳", "phone": "+8613900005555", "relation": "family", "priority": 0}]
        }
        resp = await admin.patch("/api/v1/households/h-c2", json=edit)
        assert resp.status_code == 200, resp.text
    async with ctx.db() as session:
        incident = await session.scalar(select(Incident).where(Incident.household_id == "h-c2"))
    assert incident is not None
    assert incident.responder_contact_id is None
    assert incident.responder_name == "李明", "the incident still says who went"
