"""A responder is one person with a contact row in every home they serve (issue 15): they see and act on
incidents dispatched to any row with their normalized phone number, and on nobody else's."""

from __future__ import annotations

import uuid

import httpx

from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import Contact
from tests.support.dispatch import add_household, add_user, client, open_incident

ACK = {"to": "acknowledged", "note": "接警"}


def _number() -> str:
    """A mainland mobile no other test uses (the test databases are shared)."""
    return f"+86137{uuid.uuid4().int % 10**8:08d}"


async def _home_with(ctx: Context, phone: str, name: str = "陈伟") -> tuple[str, int]:
    """A household whose grid worker has ``phone``: its id and the grid worker's contact id."""
    household = await add_household(ctx, contacts=0)
    async with transaction(ctx.db) as session:
        contact = Contact(
            household_id=household.id, name=name, relation="grid_worker", phone=phone, priority=0
        )
        session.add(contact)
        await session.flush()
        return household.id, contact.id


async def _dispatched(
    ctx: Context, http: httpx.AsyncClient, op_h: dict[str, str], home: str, contact: int
) -> int:
    incident_id = await open_incident(ctx, home)
    url = f"/api/v1/incidents/{incident_id}/transitions"
    assert (await http.post(url, json=ACK, headers=op_h)).status_code == 200
    r = await http.post(url, json={"to": "dispatched", "responder_contact_id": contact}, headers=op_h)
    assert r.status_code == 200, r.text
    return incident_id


async def test_a_responder_acts_on_incidents_sent_to_any_row_with_their_number_and_no_other(
    dctx: Context,
) -> None:
    number = _number()
    # The linked row keeps separators: "the same number" is the normalized one.
    spaced = f"{number[:3]} {number[3:6]}-{number[6:10]}-{number[10:]}"
    home_a, linked = await _home_with(dctx, spaced)
    home_b, same_person = await _home_with(dctx, number)
    home_c, someone_else = await _home_with(dctx, _number())
    _op, op_h = await add_user(dctx, Role.OPERATOR)
    _resp, resp_h = await add_user(dctx, Role.RESPONDER, contact_id=linked)
    async with client(dctx) as http:
        own = await _dispatched(dctx, http, op_h, home_a, linked)
        other_home = await _dispatched(dctx, http, op_h, home_b, same_person)
        not_mine = await _dispatched(dctx, http, op_h, home_c, someone_else)
        listed = [i["id"] for i in (await http.get("/api/v1/incidents", headers=resp_h)).json()]
        assert sorted(listed) == sorted([own, other_home])
        base = f"/api/v1/incidents/{other_home}"
        detail = await http.get(base, headers=resp_h)
        assert detail.status_code == 200 and detail.json()["allowed_transitions"] == ["resolved"]
        assert (await http.post(f"{base}/arrival", json={}, headers=resp_h)).status_code == 200
        assert (await http.post(f"{base}/notes", json={"note": "到了"}, headers=resp_h)).status_code == 200
        r = await http.post(
            f"{base}/transitions",
            json={"to": "resolved", "outcome": "resident_well", "note": "老人平安"},
            headers=resp_h,
        )
        assert r.status_code == 200 and r.json()["state"] == "resolved", r.text
        # A different number: as unknown as ever.
        other = f"/api/v1/incidents/{not_mine}"
        assert (await http.get(other, headers=resp_h)).status_code == 404
        assert (await http.post(f"{other}/arrival", json={}, headers=resp_h)).status_code == 404
        r = await http.post(
            f"{other}/transitions", json={"to": "resolved", "outcome": "resident_well"}, headers=resp_h
        )
        assert r.status_code == 404


async def test_a_linked_contact_without_a_number_claims_only_its_own_row(dctx: Context) -> None:
    home_a, linked = await _home_with(dctx, "")
    home_b, also_blank = await _home_with(dctx, "")
    _op, op_h = await add_user(dctx, Role.OPERATOR)
    _resp, resp_h = await add_user(dctx, Role.RESPONDER, contact_id=linked)
    async with client(dctx) as http:
        own = await _dispatched(dctx, http, op_h, home_a, linked)
        theirs = await _dispatched(dctx, http, op_h, home_b, also_blank)
        listed = [i["id"] for i in (await http.get("/api/v1/incidents", headers=resp_h)).json()]
        assert listed == [own]
        assert (await http.get(f"/api/v1/incidents/{theirs}", headers=resp_h)).status_code == 404
        r = await http.post(f"/api/v1/incidents/{theirs}/arrival", json={}, headers=resp_h)
        assert r.status_code == 404
