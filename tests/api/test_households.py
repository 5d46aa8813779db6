"""Households over HTTP: create, read, search, edit, rule overrides, and their audit records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from anju import audit
from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import AuditRecord, Household
from tests.support.api import detail, household_body, signed_in, sqlite_context


@pytest.fixture
async def admin(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client, on SQLite and on PostgreSQL."""
    async with signed_in(ctx, Role.ADMIN, "installer") as client:
        yield client


@pytest.fixture
async def lite_admin(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client on SQLite only, for request validation that storage cannot change."""
    async with sqlite_context(sqlite_url) as ctx, signed_in(ctx, Role.ADMIN) as client:
        yield client


async def _audit(ctx: Context, entity_id: str) -> list[AuditRecord]:
    async with ctx.db() as session:
        rows = await session.scalars(
            select(AuditRecord).where(AuditRecord.entity_id == entity_id).order_by(AuditRecord.id)
        )
        return list(rows)


async def _create(client: httpx.AsyncClient, household_id: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/households", json=household_body(household_id, **extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_created_household_reads_back_with_residents_and_contacts_in_calling_order(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    created = await _create(
        admin,
        "h-wang",
        contacts=[
            {"name": "张阿姨", "relation": "neighbour", "phone": "+8613900139000", "priority": 2},
            {"name": "李明", "relation": "son", "phone": "+86 138-0013-8000", "priority": 1},
        ],
    )
    got = (await admin.get("/api/v1/households/h-wang")).json()
    assert got == created
    assert got["name"] == "王秀英"
    assert got["address"].startswith("上海市徐汇区")
    assert got["monitoring_degraded"] is False
    assert [r["name"] for r in got["residents"]] == ["王秀英"]
    # Called in priority order, phone numbers in the E.164 form SMS providers need.
    assert [(c["name"], c["phone"]) for c in got["contacts"]] == [
        ("李明", "+8613800138000"),
        ("张阿姨", "+8613900139000"),
    ]
    records = await _audit(ctx, "h-wang")
    assert [r.action for r in records] == ["household.create"]
    assert records[0].actor == "installer"
    assert records[0].content["contacts"][0]["phone"] == "+8613800138000"


async def test_duplicate_household_id_is_a_409_and_changes_nothing(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    await _create(admin, "h-dup")
    response = await admin.post("/api/v1/households", json=household_body("h-dup", name="Someone else"))
    assert response.status_code == 409
    assert "already exists" in detail(response)
    assert (await admin.get("/api/v1/households/h-dup")).json()["name"] == "王秀英"
    assert len(await _audit(ctx, "h-dup")) == 1


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"id": "h/1"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"name": "   "}, "name"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"contacts": [{"name": "李明", "phone": "13800138000"}]}, "international format"),
        ({"residents": [{"name": "王", "birth_year": 1700}]}, "birth_year"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_invalid_household_is_a_422_that_names_the_problem(
    lite_admin: httpx.AsyncClient, change: dict[str, Any], reason: str
) -> None:
    response = await lite_admin.post("/api/v1/households", json=household_body("h-bad") | change)
    assert response.status_code == 422
    assert reason in detail(response)
    assert (await lite_admin.get("/api/v1/households/h-bad")).status_code == 404


async def test_unknown_household_is_a_404(lite_admin: httpx.AsyncClient) -> None:
    response = await lite_admin.get("/api/v1/households/h-nowhere")
    assert response.status_code == 404
    assert "h-nowhere" in detail(response)
    assert (await lite_admin.patch("/api/v1/households/h-nowhere", json={"notes": "x"})).status_code == 404


async def test_edit_changes_only_the_fields_sent_and_audits_each_change(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    await _create(admin, "h-edit", notes="")
    response = await admin.patch(
        "/api/v1/households/h-edit",
        json={
            "address": "上海市徐汇区天平路 90 弄 1 号 101",
            "contacts": [{"name": "居委会 王主任", "relation": "grid_worker", "phone": "+862164370000"}],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["address"] == "上海市徐汇区天平路 90 弄 1 号 101"
    assert body["name"] == "王秀英"
    assert [c["name"] for c in body["contacts"]] == ["居委会 王主任"]
    assert (await admin.get("/api/v1/households/h-edit")).json() == body
    update = (await _audit(ctx, "h-edit"))[-1]
    assert update.action == "household.update"
    assert set(update.content) == {"address", "contacts"}
    assert update.content["address"]["from"] == "上海市徐汇区天平路 88 弄 3 号 502"
    assert len(update.content["contacts"]["from"]) == 2


async def test_rule_override_change_is_validated_stored_and_audited_on_its_own(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    await _create(admin, "h-rules")
    overrides = {"inactivity": {"threshold": {"night": "8h"}}, "door_left_open": {"threshold": "30m"}}
    response = await admin.patch("/api/v1/households/h-rules", json={"rule_overrides": overrides})
    assert response.status_code == 200, response.text
    assert response.json()["rule_overrides"] == overrides
    async with ctx.db() as session:
        household = await session.get(Household, "h-rules")
        assert household is not None
        assert household.rule_overrides == overrides
    record = (await _audit(ctx, "h-rules"))[-1]
    assert record.action == "household.rule_overrides"
    assert record.content["from"] == {}
    assert record.actor == "installer"


async def test_invalid_rule_override_is_a_422_with_the_engines_reason_and_changes_nothing(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    await _create(admin, "h-badrules")
    response = await admin.patch(
        "/api/v1/households/h-badrules",
        json={"notes": "should not stick", "rule_overrides": {"inactivity": {"threshold": {"night": "10x"}}}},
    )
    assert response.status_code == 422
    assert detail(response).startswith("rule_overrides: ")
    assert "inactivity.threshold.night" in detail(response)
    got = (await admin.get("/api/v1/households/h-badrules")).json()
    assert got["rule_overrides"] == {}
    assert got["notes"] == ""
    assert [r.action for r in await _audit(ctx, "h-badrules")] == ["household.create"]


async def test_edit_that_changes_nothing_writes_no_audit_record(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    await _create(admin, "h-same")
    response = await admin.patch("/api/v1/households/h-same", json={"area": "天平街道"})
    assert response.status_code == 200
    assert [r.action for r in await _audit(ctx, "h-same")] == ["household.create"]


@pytest.mark.parametrize("body", [{}, {"name": None}, {"contacts": None}, {"monitoring_degraded": True}])
async def test_empty_null_or_read_only_edit_is_a_422(
    lite_admin: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    await _create(lite_admin, "h-null")
    response = await lite_admin.patch("/api/v1/households/h-null", json=body)
    assert response.status_code == 422, response.text


async def test_list_searches_name_address_and_area_and_pages(admin: httpx.AsyncClient) -> None:
    await _create(admin, "h-a1", name="陈桂兰", address="北京市朝阳区 1 号", area="朝阳")
    await _create(admin, "h-a2", name="刘建国", address="北京市朝阳区 2 号", area="朝阳")
    await _create(admin, "h-b1", name="Mary Smith", address="12 High St", area="Camden")

    async def ids(**params: Any) -> tuple[list[str], int]:
        response = await admin.get("/api/v1/households", params=params)
        assert response.status_code == 200, response.text
        return [h["id"] for h in response.json()["items"]], response.json()["total"]

    assert await ids(q="桂兰") == (["h-a1"], 1)
    assert await ids(q="朝阳区") == (["h-a1", "h-a2"], 2)
    assert await ids(q="mary") == (["h-b1"], 1)
    assert await ids(area="朝阳") == (["h-a1", "h-a2"], 2)
    assert await ids(q="100%") == ([], 0)
    assert await ids(limit=2) == (["h-a1", "h-a2"], 3)
    assert await ids(limit=2, offset=2) == (["h-b1"], 3)
    assert (await admin.get("/api/v1/households", params={"limit": 501})).status_code == 422


async def test_audit_chain_stays_intact_after_household_edits(ctx: Context, admin: httpx.AsyncClient) -> None:
    await _create(admin, "h-chain")
    await admin.patch("/api/v1/households/h-chain", json={"notes": "独居，听力弱"})
    await admin.patch(
        "/api/v1/households/h-chain", json={"rule_overrides": {"door_left_open": {"threshold": "40m"}}}
    )
    async with transaction(ctx.db) as session:
        count, broken = await audit.verify(session)
    assert broken is None
    assert count >= 4  # the user, the household, one edit, one override change


async def test_two_racing_creates_of_one_household_give_one_201_and_one_409(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    body = household_body("h-race")
    first, second = await asyncio.gather(
        admin.post("/api/v1/households", json=body), admin.post("/api/v1/households", json=body)
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    assert [r.action for r in await _audit(ctx, "h-race")] == ["household.create"]
