"""The incident API: ownership and its races, hand-over, responders, follow-ups, roles, live updates."""

from __future__ import annotations

import asyncio

import pytest

from anju.clock import SimClock
from anju.context import Context
from anju.domain import IncidentState, Role, Rule
from tests.support.dispatch import (
    add_household,
    add_user,
    client,
    contact_ids,
    drive,
    finish_active,
    incident_row,
    open_incident,
)


def _url(incident_id: int, tail: str = "") -> str:
    return f"/api/v1/incidents/{incident_id}{tail}"


ACK = {"to": "acknowledged", "note": "接警"}


async def test_two_operators_acknowledging_at_once_one_wins_the_other_gets_409(dctx: Context) -> None:
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    alice, alice_h = await add_user(dctx, Role.OPERATOR)
    bob, bob_h = await add_user(dctx, Role.OPERATOR)
    async with client(dctx) as http:
        for _round in range(3):  # a few rounds, so both interleavings get a chance
            r1, r2 = await asyncio.gather(
                http.post(_url(incident_id, "/transitions"), json=ACK, headers=alice_h),
                http.post(_url(incident_id, "/transitions"), json=ACK, headers=bob_h),
            )
            assert sorted([r1.status_code, r2.status_code]) == [200, 409], (r1.text, r2.text)
            winner = alice if r1.status_code == 200 else bob
            incident = await incident_row(dctx, incident_id)
            assert incident.owner_id == winner.id and incident.state == "acknowledged"
            detail = (await http.get(_url(incident_id), headers=alice_h)).json()
            assert [e["kind"] for e in detail["timeline"]].count("transition") == 1
            # Next round on a fresh incident.
            await drive_resolve(http, incident_id, alice_h if winner is alice else bob_h)
            incident_id = await open_incident(dctx, household.id)


async def drive_resolve(http: object, incident_id: int, headers: dict[str, str]) -> None:
    import httpx

    assert isinstance(http, httpx.AsyncClient)
    r = await http.post(
        _url(incident_id, "/transitions"),
        json={"to": "resolved", "outcome": "false_alarm", "note": "误按"},
        headers=headers,
    )
    assert r.status_code == 200, r.text


async def test_only_the_owner_moves_an_acknowledged_incident_until_it_is_handed_over(dctx: Context) -> None:
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    alice, alice_h = await add_user(dctx, Role.OPERATOR)
    bob, bob_h = await add_user(dctx, Role.OPERATOR)
    _sup, sup_h = await add_user(dctx, Role.SUPERVISOR)
    async with client(dctx) as http:
        assert (
            await http.post(_url(incident_id, "/transitions"), json=ACK, headers=alice_h)
        ).status_code == 200
        dispatch = {"to": "dispatched", "responder_name": "网格员 陈伟", "responder_kind": "grid_worker"}
        r = await http.post(_url(incident_id, "/transitions"), json=dispatch, headers=bob_h)
        assert r.status_code == 403 and "owned by another operator" in r.text
        assert (await http.get(_url(incident_id), headers=bob_h)).json()["allowed_transitions"] == []
        # Bob may not take it; a supervisor hands it over, on the record.
        r = await http.post(_url(incident_id, "/owner"), json={"user_id": bob.id}, headers=bob_h)
        assert r.status_code == 403
        r = await http.post(
            _url(incident_id, "/owner"), json={"user_id": bob.id, "note": "交班"}, headers=sup_h
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["owner_id"] == bob.id and body["owner_username"] == bob.username
        transfer = [e for e in body["timeline"] if e["kind"] == "owner_transfer"]
        assert transfer and transfer[0]["data"]["from_user_id"] == alice.id and transfer[0]["note"] == "交班"
        r = await http.post(_url(incident_id, "/transitions"), json=dispatch, headers=bob_h)
        assert r.status_code == 200 and r.json()["responder_kind"] == "grid_worker"
        r = await http.post(_url(incident_id, "/transitions"), json={"to": "resolved"}, headers=alice_h)
        assert r.status_code == 403


async def test_dispatch_arrival_and_resolution_need_their_facts(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx)
    contacts = await contact_ids(dctx, household.id)
    incident_id = await open_incident(dctx, household.id)
    _op, h = await add_user(dctx, Role.OPERATOR)
    async with client(dctx) as http:
        await http.post(_url(incident_id, "/transitions"), json=ACK, headers=h)
        r = await http.post(_url(incident_id, "/transitions"), json={"to": "dispatched"}, headers=h)
        assert r.status_code == 422 and "responder" in r.text
        r = await http.post(
            _url(incident_id, "/transitions"),
            json={"to": "dispatched", "responder_contact_id": 999999},
            headers=h,
        )
        assert r.status_code == 422
        r = await http.post(
            _url(incident_id, "/transitions"),
            json={"to": "dispatched", "responder_contact_id": contacts[1]},
            headers=h,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["responder_name"] == "张阿姨" and body["responder_kind"] == "neighbour"
        sms = [n for n in body["notifications"] if n["step"] == "dispatch"]
        assert len(sms) == 1 and sms[0]["to_address"] == "+8613900000001" and "请立即上门" in sms[0]["body"]

        clock.advance(420)
        r = await http.post(_url(incident_id, "/arrival"), json={"note": "已到门口"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "dispatched"
        assert r.json()["arrived_at"] is not None
        assert [e["kind"] for e in r.json()["timeline"]][-1] == "arrived"
        assert (await http.post(_url(incident_id, "/arrival"), json={}, headers=h)).status_code == 409

        for bad in ({"to": "resolved", "note": "ok"}, {"to": "resolved", "outcome": "taken_to_hospital"}):
            r = await http.post(_url(incident_id, "/transitions"), json=bad, headers=h)
            assert r.status_code == 422, r.text
        r = await http.post(
            _url(incident_id, "/transitions"),
            json={"to": "resolved", "outcome": "made_up", "note": "x"},
            headers=h,
        )
        assert r.status_code == 422
        assert (await incident_row(dctx, incident_id)).state == "dispatched"


async def test_hospital_outcome_schedules_next_day_follow_up_that_must_be_settled_before_closing(
    dctx: Context,
) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    _op, h = await add_user(dctx, Role.OPERATOR)
    async with client(dctx) as http:
        await http.post(_url(incident_id, "/transitions"), json=ACK, headers=h)
        r = await http.post(
            _url(incident_id, "/transitions"),
            json={"to": "resolved", "outcome": "taken_to_hospital", "note": "120 送瑞金医院"},
            headers=h,
        )
        assert r.status_code == 200
        resolved_at = r.json()["resolved_at"]
        due = r.json()["follow_up_due_at"]
        assert due is not None
        from datetime import datetime

        hours = (datetime.fromisoformat(due) - datetime.fromisoformat(resolved_at)).total_seconds() / 3600
        assert hours == 24
        r = await http.post(_url(incident_id, "/transitions"), json={"to": "closed"}, headers=h)
        assert r.status_code == 409 and "follow-up" in r.text

        listing = await http.get("/api/v1/incidents/follow-ups?overdue=true", headers=h)
        assert incident_id not in [i["id"] for i in listing.json()]
        clock.advance(25 * 3600)
        listing = await http.get("/api/v1/incidents/follow-ups?overdue=true", headers=h)
        assert incident_id in [i["id"] for i in listing.json()]

        r = await http.post(_url(incident_id, "/follow-up"), json={"action": "waive"}, headers=h)
        assert r.status_code == 422 and "reason" in r.text
        r = await http.post(
            _url(incident_id, "/follow-up"), json={"action": "waive", "note": "家属已接回照护"}, headers=h
        )
        assert r.status_code == 200 and r.json()["follow_up_waived_reason"] == "家属已接回照护"
        r = await http.post(_url(incident_id, "/transitions"), json={"to": "closed"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "closed"
        listing = await http.get("/api/v1/incidents/follow-ups?overdue=true", headers=h)
        assert incident_id not in [i["id"] for i in listing.json()]


async def test_device_fault_needs_no_follow_up_and_closes_straight_away(dctx: Context) -> None:
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    _op, h = await add_user(dctx, Role.OPERATOR)
    async with client(dctx) as http:
        await http.post(_url(incident_id, "/transitions"), json=ACK, headers=h)
        r = await http.post(
            _url(incident_id, "/transitions"),
            json={"to": "resolved", "outcome": "device_fault", "note": "按钮受潮误报"},
            headers=h,
        )
        assert r.json()["follow_up_due_at"] is None
        r = await http.post(_url(incident_id, "/transitions"), json={"to": "closed"}, headers=h)
        assert r.status_code == 200


async def test_responders_see_and_act_only_on_incidents_dispatched_to_them(dctx: Context) -> None:
    household = await add_household(dctx)
    other = await add_household(dctx)
    mine, theirs = await open_incident(dctx, household.id), await open_incident(dctx, other.id)
    contact = (await contact_ids(dctx, household.id))[0]
    _op, op_h = await add_user(dctx, Role.OPERATOR)
    _resp, resp_h = await add_user(dctx, Role.RESPONDER, contact_id=contact)
    async with client(dctx) as http:
        assert (await http.get(_url(mine), headers=resp_h)).status_code == 404
        assert (await http.get("/api/v1/incidents", headers=resp_h)).json() == []
        for incident_id in (mine, theirs):
            await http.post(_url(incident_id, "/transitions"), json=ACK, headers=op_h)
        r = await http.post(
            _url(mine, "/transitions"),
            json={"to": "dispatched", "responder_contact_id": contact},
            headers=op_h,
        )
        assert r.status_code == 200
        assert [i["id"] for i in (await http.get("/api/v1/incidents", headers=resp_h)).json()] == [mine]
        assert (await http.get(_url(theirs), headers=resp_h)).status_code == 404
        assert (
            await http.post(_url(theirs, "/notes"), json={"note": "x"}, headers=resp_h)
        ).status_code == 404
        assert (await http.get(_url(mine), headers=resp_h)).json()["allowed_transitions"] == ["resolved"]
        assert (await http.post(_url(mine, "/arrival"), json={}, headers=resp_h)).status_code == 200
        assert (
            await http.post(_url(mine, "/notes"), json={"note": "老人在家"}, headers=resp_h)
        ).status_code == 200
        r = await http.post(
            _url(mine, "/transitions"),
            json={"to": "resolved", "outcome": "assisted_at_home", "note": "扶起，无外伤"},
            headers=resp_h,
        )
        assert r.status_code == 200, r.text
        r = await http.post(_url(mine, "/transitions"), json={"to": "follow_up"}, headers=resp_h)
        assert r.status_code == 403
        assert (await http.get("/api/v1/incidents/follow-ups", headers=resp_h)).status_code == 403


async def test_queue_is_ordered_by_severity_then_age_and_filters(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    homes = [await add_household(dctx) for _ in range(3)]
    medium = await open_incident(dctx, homes[0].id, Rule.DOOR_LEFT_OPEN)
    clock.advance(10)
    critical_old = await open_incident(dctx, homes[1].id, Rule.BUTTON)
    clock.advance(10)
    critical_new = await open_incident(dctx, homes[2].id, Rule.BUTTON)
    _sup, h = await add_user(dctx, Role.SUPERVISOR)
    async with client(dctx) as http:
        ids = [i["id"] for i in (await http.get("/api/v1/incidents", headers=h)).json()]
        assert ids == [critical_old, critical_new, medium]
        r = await http.get("/api/v1/incidents?severity=medium", headers=h)
        assert [i["id"] for i in r.json()] == [medium]
        r = await http.get(f"/api/v1/incidents?household_id={homes[2].id}&state=open", headers=h)
        assert [i["id"] for i in r.json()] == [critical_new]
        assert (await http.get("/api/v1/incidents?state=acknowledged", headers=h)).json() == []
        assert (await http.get("/api/v1/incidents?state=bogus", headers=h)).status_code == 422
        detail = (await http.get(_url(critical_old), headers=h)).json()
        assert detail["next_escalation_at"] is not None and detail["allowed_transitions"] == []
        assert [a["rule"] for a in detail["alerts"]] == ["button"]
        assert len(detail["household"]["contacts"]) == 2
        assert (await http.get(_url(987654), headers=h)).status_code == 404


async def test_changes_reach_the_console_bus_after_commit(dctx: Context) -> None:
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    _op, h = await add_user(dctx, Role.OPERATOR)
    async with dctx.bus.subscribe() as queue, client(dctx) as http:
        await http.post(_url(incident_id, "/transitions"), json=ACK, headers=h)
        await http.post(_url(incident_id, "/transitions"), json={"to": "closed"}, headers=h)  # 409
        message = queue.get_nowait()
        assert message["type"] == "incident" and message["id"] == incident_id
        assert message["state"] == "acknowledged"
        assert queue.empty(), "a refused change publishes nothing"


ROLE_CASES = [
    # (name, method, tail, body, roles admitted)
    ("queue", "GET", "", None, {Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.RESPONDER}),
    ("follow-ups", "GET", "/follow-ups", None, {Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN}),
    ("detail", "GET", "/{id}", None, {Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN}),
    ("acknowledge", "POST", "/{id}/transitions", ACK, {Role.OPERATOR, Role.ADMIN}),
    ("note", "POST", "/{id}/notes", {"note": "已致电家属"}, {Role.OPERATOR, Role.ADMIN}),
    ("arrival", "POST", "/{id}/arrival", {}, {Role.OPERATOR, Role.ADMIN}),
    ("owner", "POST", "/{id}/owner", {"user_id": 0}, {Role.SUPERVISOR, Role.ADMIN}),
    ("follow-up", "POST", "/{id}/follow-up", {"action": "done"}, {Role.OPERATOR, Role.ADMIN}),
]


@pytest.mark.parametrize("case", ROLE_CASES, ids=[c[0] for c in ROLE_CASES])
async def test_incident_routes_admit_only_their_roles(
    dctx: Context, case: tuple[str, str, str, dict[str, object] | None, set[Role]]
) -> None:
    name, method, tail, body, admitted = case
    household = await add_household(dctx)
    for role in Role:
        incident_id = await open_incident(dctx, household.id)
        owner, _ = await add_user(dctx, Role.OPERATOR)
        successor, _ = await add_user(dctx, Role.OPERATOR)
        # Put the incident where the action is legal; only the hand-over case has an owner.
        state = {
            "arrival": IncidentState.DISPATCHED,
            "owner": IncidentState.ACKNOWLEDGED,
            "follow-up": IncidentState.RESOLVED,
        }.get(name, IncidentState.OPEN)
        await drive(dctx, incident_id, state, user=owner if name == "owner" else None)
        payload = dict(body) if body is not None else None
        if name == "owner" and payload is not None:
            payload["user_id"] = successor.id
        _user, headers = await add_user(dctx, role)
        path = "/api/v1/incidents" + tail.replace("{id}", str(incident_id))
        async with client(dctx) as http:
            r = await http.request(method, path, json=payload, headers=headers)
            anonymous = await http.request(method, path, json=payload)
        assert anonymous.status_code == 401
        if role in admitted:
            assert r.status_code == 200, (name, role, r.text)
        else:
            # A responder is not told an incident exists (404); others without the right get 403.
            hidden = role is Role.RESPONDER and "{id}" in tail
            assert r.status_code == (404 if hidden else 403), (name, role, r.text)
        await finish_active(dctx, incident_id)
