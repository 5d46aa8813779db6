"""The phone provider of a household and of each contact: set through the API, checked, audited, used."""

from __future__ import annotations

from sqlalchemy import select

from anju.context import Context
from anju.domain import Channel, Role
from anju.notify.routing import route_for
from anju.store.models import AuditRecord, Contact, Incident, Notification
from tests.support.api import detail, household_body, signed_in


async def _audit(ctx: Context, action: str) -> list[dict[str, object]]:
    async with ctx.db() as session:
        query = select(AuditRecord.content).where(AuditRecord.action == action).order_by(AuditRecord.id)
        return list(await session.scalars(query))


async def test_a_household_and_its_contacts_name_their_provider_and_the_outbox_uses_it(ctx: Context) -> None:
    async with signed_in(ctx, Role.OPERATOR) as operator:
        body = household_body("h-pp1", phone_provider="aliyun")
        body["contacts"][1]["phone_provider"] = "twilio"
        created = await operator.post("/api/v1/households", json=body)
        assert created.status_code == 201, created.text
        read = (await operator.get("/api/v1/households/h-pp1")).json()
    assert read["phone_provider"] == "aliyun"
    assert [c["phone_provider"] for c in read["contacts"]] == [None, "twilio"]
    [snapshot] = await _audit(ctx, "household.create")
    assert snapshot["phone_provider"] == "aliyun"
    assert [c["phone_provider"] for c in snapshot["contacts"]] == [None, "twilio"]  # type: ignore[union-attr, index]
    async with ctx.db() as session:
        contacts = list(await session.scalars(select(Contact).order_by(Contact.priority)))
        incident = Incident(household_id="h-pp1")
        routes = []
        for contact in contacts:
            row = Notification(channel=Channel.SMS.value, contact_id=contact.id, step="notify_duty")
            routes.append(await route_for(session, row, incident))
    # The contact's own choice first; a contact without one follows the household's.
    assert routes == [("aliyun", False), ("twilio", False)]


async def test_an_unknown_provider_is_refused_with_the_list_and_a_change_is_audited(ctx: Context) -> None:
    async with signed_in(ctx, Role.ADMIN) as admin:
        for bad in ("feishu", "log", ""):
            refused = await admin.post("/api/v1/households", json=household_body("h-pp2", phone_provider=bad))
            assert refused.status_code == 422, refused.text
            assert "one of: twilio, aliyun" in detail(refused)
        body = household_body("h-pp2")
        body["contacts"][0]["phone_provider"] = "Aliyun"  # names are exact
        refused = await admin.post("/api/v1/households", json=body)
        assert refused.status_code == 422 and "unknown phone provider 'Aliyun'" in detail(refused)
        assert (await admin.post("/api/v1/households", json=household_body("h-pp2"))).status_code == 201

        changed = await admin.patch("/api/v1/households/h-pp2", json={"phone_provider": "twilio"})
        assert changed.status_code == 200 and changed.json()["phone_provider"] == "twilio"
        cleared = await admin.patch("/api/v1/households/h-pp2", json={"phone_provider": None})
        assert cleared.status_code == 200 and cleared.json()["phone_provider"] is None
        assert (
            await admin.patch("/api/v1/households/h-pp2", json={"phone_provider": "x"})
        ).status_code == 422
        assert (await admin.patch("/api/v1/households/h-pp2", json={"name": None})).status_code == 422

        contacts = household_body("h-pp2")["contacts"]
        contacts[0]["phone_provider"] = "aliyun"
        edited = await admin.patch("/api/v1/households/h-pp2", json={"contacts": contacts})
        assert edited.status_code == 200
        assert [c["phone_provider"] for c in edited.json()["contacts"]] == ["aliyun", None]
    updates = await _audit(ctx, "household.update")
    assert updates[0] == {"phone_provider": {"from": None, "to": "twilio"}}
    assert updates[1] == {"phone_provider": {"from": "twilio", "to": None}}
    change = updates[2]["contacts"]
    assert [c["phone_provider"] for c in change["from"]] == [None, None]  # type: ignore[index]
    assert [c["phone_provider"] for c in change["to"]] == ["aliyun", None]  # type: ignore[index]
