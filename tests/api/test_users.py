"""The users API (admins): create, edit, deactivate; every change one audit record, never a password."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from anju.context import Context
from anju.domain import Role
from anju.store.models import AuditRecord, User
from tests.support.admin import chain_ok, last_audit_id, records
from tests.support.api import PASSWORD, bearer, client_for, detail
from tests.support.dispatch import add_household, add_user, contact_ids, open_incident
from tests.support.settings import make_settings

NEW_PASSWORD = "a much longer passphrase"


@pytest.fixture
async def lite(sqlite_url: str) -> AsyncIterator[Context]:
    """SQLite only: request validation and roles do not depend on the database."""
    ctx = Context.create(make_settings(sqlite_url))
    try:
        yield ctx
    finally:
        await ctx.close()


async def _admin(ctx: Context) -> tuple[User, httpx.AsyncClient]:
    user, headers = await add_user(ctx, Role.ADMIN)
    http = client_for(ctx)
    http.headers.update(headers)
    return user, http


async def _login(ctx: Context, username: str, password: str) -> httpx.Response:
    async with client_for(ctx) as http:
        return await http.post("/api/v1/auth/token", data={"username": username, "password": password})


def _operator_body(username: str, **extra: Any) -> dict[str, Any]:
    return {
        "username": username,
        "password": PASSWORD,
        "role": "operator",
        "display_name": "值班员 刘芳",
        "phone": "+86 139 0013 9000",
        "language": "zh-CN",
        **extra,
    }


def _secrets_absent(content: dict[str, Any], *secrets: str) -> None:
    text = str(content)
    for secret in secrets:
        assert secret not in text
    assert "password_hash" not in text and "$argon2" not in text


async def test_admin_creates_a_user_who_can_log_in_and_one_audit_record_names_the_admin_not_the_password(
    ctx: Context,
) -> None:
    admin, http = await _admin(ctx)
    before_id = await last_audit_id(ctx)
    async with http:
        response = await http.post("/api/v1/users", json=_operator_body("liufang"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("username", "role", "display_name", "phone", "language", "active")} == {
        "username": "liufang",
        "role": "operator",
        "display_name": "值班员 刘芳",
        "phone": "+8613900139000",
        "language": "zh-CN",
        "active": True,
    }
    assert "password" not in str(body) and "hash" not in str(body)
    (rec,) = await records(ctx, after_id=before_id)
    assert (rec.action, rec.actor, rec.entity, rec.entity_id) == (
        "user.create",
        admin.username,
        "user",
        str(body["id"]),
    )
    assert rec.content["username"] == "liufang" and rec.content["role"] == "operator"
    assert rec.content["phone"] == "+8613900139000"
    _secrets_absent(rec.content, PASSWORD)
    assert (await _login(ctx, "liufang", PASSWORD)).status_code == 200
    await chain_ok(ctx)


async def test_each_edit_is_one_audit_record_of_the_changed_fields_and_a_password_shows_only_as_reset(
    ctx: Context,
) -> None:
    admin, http = await _admin(ctx)
    household = await add_household(ctx)
    contact = (await contact_ids(ctx, household.id))[0]
    async with http:
        created = await http.post("/api/v1/users", json=_operator_body("chenwei"))
        user_id = created.json()["id"]
        before_id = await last_audit_id(ctx)
        edits: list[dict[str, Any]] = [
            {"role": "supervisor", "display_name": "主管 陈伟"},
            {"phone": None},
            {"role": "responder", "contact_id": contact},
            {"password": NEW_PASSWORD},
            {"language": "en"},
        ]
        for edit in edits:
            response = await http.patch(f"/api/v1/users/{user_id}", json=edit)
            assert response.status_code == 200, (edit, response.text)
        final = response.json()
    assert (final["role"], final["display_name"], final["phone"], final["contact_id"], final["language"]) == (
        "responder",
        "主管 陈伟",
        None,
        contact,
        "en",
    )
    recs = await records(ctx, after_id=before_id)
    assert [r.action for r in recs] == ["user.update"] * len(edits)
    assert all(r.actor == admin.username and r.entity_id == str(user_id) for r in recs)
    assert [r.content["changes"] for r in recs] == [
        {
            "role": {"from": "operator", "to": "supervisor"},
            "display_name": {"from": "值班员 刘芳", "to": "主管 陈伟"},
        },
        {"phone": {"from": "+8613900139000", "to": None}},
        {"role": {"from": "supervisor", "to": "responder"}, "contact_id": {"from": None, "to": contact}},
        {"password": "reset"},
        {"language": {"from": "zh-CN", "to": "en"}},
    ]
    for rec in recs:
        _secrets_absent(rec.content, PASSWORD, NEW_PASSWORD)
    assert (await _login(ctx, "chenwei", NEW_PASSWORD)).status_code == 200
    assert (await _login(ctx, "chenwei", PASSWORD)).status_code == 401
    await chain_ok(ctx)


async def test_an_edit_that_changes_nothing_writes_no_audit_record(lite: Context) -> None:
    _, http = await _admin(lite)
    async with http:
        user_id = (await http.post("/api/v1/users", json=_operator_body("same"))).json()["id"]
        before_id = await last_audit_id(lite)
        response = await http.patch(f"/api/v1/users/{user_id}", json={"role": "operator", "active": True})
        empty = await http.patch(f"/api/v1/users/{user_id}", json={})
    assert response.status_code == 200
    assert empty.status_code == 422 and "nothing to change" in detail(empty)
    assert await records(lite, after_id=before_id) == []


async def test_a_deactivated_users_token_stops_working_at_once_and_they_cannot_log_in(lite: Context) -> None:
    _, http = await _admin(lite)
    async with http:
        created = await http.post("/api/v1/users", json=_operator_body("leaver"))
        user_id = created.json()["id"]
        token = (await _login(lite, "leaver", PASSWORD)).json()["access_token"]
        async with client_for(lite) as theirs:
            assert (await theirs.get("/api/v1/incidents", headers=bearer(token))).status_code == 200
            response = await http.patch(f"/api/v1/users/{user_id}", json={"active": False})
            assert response.status_code == 200 and response.json()["active"] is False
            assert (await theirs.get("/api/v1/incidents", headers=bearer(token))).status_code == 401
        assert (await _login(lite, "leaver", PASSWORD)).status_code == 401
        # No hard delete: the user is still listed, as inactive, and can be reactivated.
        listed = await http.get("/api/v1/users", params={"active": "false"})
        assert [u["username"] for u in listed.json()["items"]] == ["leaver"]
        assert (await http.delete(f"/api/v1/users/{user_id}")).status_code == 405
        assert (await http.patch(f"/api/v1/users/{user_id}", json={"active": True})).status_code == 200
    assert (await _login(lite, "leaver", PASSWORD)).status_code == 200


async def test_the_last_active_admin_cannot_deactivate_or_demote_themselves(lite: Context) -> None:
    admin, http = await _admin(lite)
    async with http:
        before_id = await last_audit_id(lite)
        for change in ({"active": False}, {"role": "supervisor"}):
            response = await http.patch(f"/api/v1/users/{admin.id}", json=change)
            assert response.status_code == 409, response.text
            assert "last active admin" in detail(response)
        assert await records(lite, after_id=before_id) == []
        # With a second active admin, stepping down is allowed.
        second = await http.post("/api/v1/users", json=_operator_body("admin2", role="admin"))
        assert second.status_code == 201
        response = await http.patch(f"/api/v1/users/{admin.id}", json={"role": "supervisor"})
        assert response.status_code == 200, response.text
    async with lite.db() as session:
        admins = await session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
        )
    assert admins == 1


async def test_two_admins_demoting_each_other_at_once_leave_one_active_admin(ctx: Context) -> None:
    first, first_http = await _admin(ctx)
    second, second_http = await _admin(ctx)
    async with first_http, second_http:
        responses = await asyncio.gather(
            first_http.patch(f"/api/v1/users/{second.id}", json={"role": "operator"}),
            second_http.patch(f"/api/v1/users/{first.id}", json={"role": "operator"}),
        )
    codes = sorted(r.status_code for r in responses)
    # The loser is refused either by the last-admin rule (409) or, if it was already demoted when
    # its request was authenticated, as a non-admin (403). Never both through.
    assert codes in ([200, 403], [200, 409]), [r.text for r in responses]
    async with ctx.db() as session:
        admins = (
            await session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True)))
        ).all()
        updates = await session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "user.update")
        )
    assert len(admins) == 1 and updates == 1
    await chain_ok(ctx)


@pytest.mark.parametrize(
    ("case", "body", "status", "reason"),
    [
        ("short password", {"password": "1234567"}, 422, "at least 10"),
        ("local phone number", {"phone": "13900139000"}, 422, "international format"),
        ("unknown role", {"role": "root"}, 422, "role"),
        ("bad username", {"username": "刘 芳"}, 422, "username"),
        ("responder without contact", {"role": "responder"}, 422, "responder needs contact_id"),
        (
            "missing contact",
            {"role": "responder", "contact_id": 999999},
            422,
            "contact 999999 does not exist",
        ),
        ("unknown field", {"is_superuser": True}, 422, "is_superuser"),
        ("taken username", {"username": "taken"}, 409, "already exists"),
    ],
)
async def test_a_bad_new_user_is_refused_with_a_reason_and_nothing_is_written(
    lite: Context, case: str, body: dict[str, Any], status: int, reason: str
) -> None:
    _, http = await _admin(lite)
    async with http:
        assert (await http.post("/api/v1/users", json=_operator_body("taken"))).status_code == 201
        before_id = await last_audit_id(lite)
        response = await http.post("/api/v1/users", json={**_operator_body("fresh"), **body})
        listed = await http.get("/api/v1/users")
    assert response.status_code == status, (case, response.text)
    assert reason in detail(response), (case, detail(response))
    names = [u["username"] for u in listed.json()["items"]]
    assert "fresh" not in names and names.count("taken") == 1
    assert await records(lite, after_id=before_id) == []


@pytest.mark.parametrize(
    ("case", "body", "status", "reason"),
    [
        ("short password", {"password": "short"}, 422, "at least 10"),
        ("null role", {"role": None}, 422, "cannot be null: role"),
        ("username is not editable", {"username": "other"}, 422, "username"),
        ("responder without contact", {"role": "responder"}, 422, "responder needs contact_id"),
        ("missing contact", {"contact_id": 999999}, 422, "contact 999999 does not exist"),
    ],
)
async def test_a_bad_edit_is_refused_with_a_reason_and_nothing_changes(
    lite: Context, case: str, body: dict[str, Any], status: int, reason: str
) -> None:
    _, http = await _admin(lite)
    async with http:
        user_id = (await http.post("/api/v1/users", json=_operator_body("steady"))).json()["id"]
        before = (await http.get(f"/api/v1/users/{user_id}")).json()
        before_id = await last_audit_id(lite)
        response = await http.patch(f"/api/v1/users/{user_id}", json=body)
        after = (await http.get(f"/api/v1/users/{user_id}")).json()
        missing = await http.patch("/api/v1/users/999999", json={"active": False})
    assert response.status_code == status, (case, response.text)
    assert reason in detail(response), (case, detail(response))
    assert after == before
    assert await records(lite, after_id=before_id) == []
    assert missing.status_code == 404


async def test_users_are_listed_by_name_and_filtered_by_role_and_active(lite: Context) -> None:
    admin, http = await _admin(lite)
    async with http:
        for name, role in (("b-op", "operator"), ("a-sup", "supervisor"), ("c-op", "operator")):
            assert (await http.post("/api/v1/users", json=_operator_body(name, role=role))).status_code == 201
        everyone = (await http.get("/api/v1/users")).json()
        operators = (await http.get("/api/v1/users", params={"role": "operator"})).json()
    assert [u["username"] for u in everyone["items"]] == sorted(["a-sup", "b-op", "c-op", admin.username])
    assert everyone["total"] == 4
    assert [u["username"] for u in operators["items"]] == ["b-op", "c-op"]


async def test_a_responder_created_with_a_contact_sees_the_incident_dispatched_to_that_contact(
    lite: Context,
) -> None:
    _, http = await _admin(lite)
    household = await add_household(lite)
    contact = (await contact_ids(lite, household.id))[1]
    incident_id = await open_incident(lite, household.id)
    _, op_headers = await add_user(lite, Role.OPERATOR)
    async with http:
        created = await http.post(
            "/api/v1/users",
            json=_operator_body("neighbour-zhang", role="responder", contact_id=contact),
        )
        assert created.status_code == 201, created.text
        token = (await _login(lite, "neighbour-zhang", PASSWORD)).json()["access_token"]
        url = f"/api/v1/incidents/{incident_id}"
        assert (await http.get(url, headers=bearer(token))).status_code == 404  # not dispatched yet
        for move in ({"to": "acknowledged"}, {"to": "dispatched", "responder_contact_id": contact}):
            response = await http.post(f"{url}/transitions", json=move, headers=op_headers)
            assert response.status_code == 200, response.text
        assert (await http.get(url, headers=bearer(token))).status_code == 200


async def test_deactivating_an_operator_names_the_active_incidents_they_own_for_hand_over(
    lite: Context,
) -> None:
    _, http = await _admin(lite)
    household = await add_household(lite)
    incident_id = await open_incident(lite, household.id)
    operator, op_headers = await add_user(lite, Role.OPERATOR)
    async with http:
        ack = await http.post(
            f"/api/v1/incidents/{incident_id}/transitions", json={"to": "acknowledged"}, headers=op_headers
        )
        assert ack.status_code == 200 and ack.json()["owner_id"] == operator.id, ack.text
        response = await http.patch(f"/api/v1/users/{operator.id}", json={"active": False})
    assert response.status_code == 200, response.text
    assert response.json()["owned_active_incidents"] == [incident_id]
