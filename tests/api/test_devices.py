"""Devices over HTTP: registration rules, filters, and the unknown-devices to-do list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import AuditRecord, Device, UnknownDevice
from tests.support.api import detail, household_body, signed_in, sqlite_context


@asynccontextmanager
async def _installer(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """An operator (acting as installer) with two households to put devices in."""
    async with signed_in(ctx, Role.OPERATOR, "installer") as client:
        for household in ("h-dev", "h-other"):
            assert (
                await client.post("/api/v1/households", json=household_body(household))
            ).status_code == 201
        yield client


@pytest.fixture
async def admin(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """On SQLite and on PostgreSQL."""
    async with _installer(ctx) as client:
        yield client


@pytest.fixture
async def lite_admin(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """On SQLite only, for request validation that storage cannot change."""
    async with sqlite_context(sqlite_url) as ctx, _installer(ctx) as client:
        yield client


async def _register(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/devices", json={"household_id": "h-dev", **body})


async def test_registered_kit_device_reads_back_with_defaults_and_is_audited(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    response = await _register(admin, id="btn-0001", type="button", location="bedside")
    assert response.status_code == 201, response.text
    device = response.json()
    assert device["household_id"] == "h-dev"
    assert device["protocol"] == "anju-v1"
    assert device["profile"] == "anju-button"
    assert device["heartbeat_s"] == 1800  # from sensors/anju-button.toml
    assert device["external_name"] is None
    assert device["online"] is True
    assert device["last_seen_at"] is None and device["battery"] is None
    assert (await admin.get("/api/v1/devices/btn-0001")).json() == device
    async with ctx.db() as session:
        record = await session.scalar(select(AuditRecord).where(AuditRecord.entity_id == "btn-0001"))
    assert record is not None and record.action == "device.create" and record.actor == "installer"


async def test_zigbee_device_needs_a_friendly_name_and_keeps_it(admin: httpx.AsyncClient) -> None:
    missing = await _register(admin, id="z-door-1", type="door", protocol="zigbee2mqtt")
    assert missing.status_code == 422
    assert "external_name" in detail(missing)
    ok = await _register(
        admin, id="z-door-1", type="door", protocol="zigbee2mqtt", external_name="0x00158d0001a2b3c4"
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["external_name"] == "0x00158d0001a2b3c4"
    assert ok.json()["profile"] == "aqara-door"
    # Zigbee2MQTT reports availability itself: the profile has no heartbeat to miss.
    assert ok.json()["heartbeat_s"] is None


@pytest.mark.parametrize(
    "body,reason",
    [
        ({"id": "door/1", "type": "door"}, "id"),
        ({"id": "x" * 65, "type": "door"}, "id"),
        ({"id": "", "type": "door"}, "id"),
        ({"id": "门磁-1", "type": "door"}, "id"),
        ({"id": "door-1", "type": "smoke"}, "type"),
        ({"id": "door-1", "type": "door", "protocol": "zwave"}, "protocol"),
        ({"id": "door-1", "type": "door", "heartbeat_s": 1}, "heartbeat_s"),
        (
            {"id": "door-1", "type": "door", "protocol": "zigbee2mqtt", "external_name": "a/#"},
            "topic segment",
        ),
        ({"id": "door-1", "type": "door", "household_id": "h-nowhere"}, "h-nowhere"),
        ({"id": "door-1", "type": "door", "profile": "acme-door"}, "use one of: anju-door"),
        ({"id": "door-1", "type": "door", "profile": "anju-pir"}, "describes a anju-v1 pir device"),
    ],
)
async def test_invalid_device_is_a_422_that_names_the_problem(
    lite_admin: httpx.AsyncClient, body: dict[str, Any], reason: str
) -> None:
    response = await _register(lite_admin, **body)
    assert response.status_code == 422, response.text
    assert reason in detail(response)
    assert (await lite_admin.get("/api/v1/devices", params={"household_id": "h-dev"})).json()["total"] == 0


async def test_duplicate_device_id_or_friendly_name_is_a_409(admin: httpx.AsyncClient) -> None:
    assert (await _register(admin, id="pir-1", type="pir")).status_code == 201
    again = await _register(admin, id="pir-1", type="door", household_id="h-other")
    assert again.status_code == 409
    assert "already registered" in detail(again)
    z = {"type": "pir", "protocol": "zigbee2mqtt", "external_name": "hall motion"}
    assert (await _register(admin, id="z-1", **z)).status_code == 201
    clash = await _register(admin, id="z-2", **z)
    assert clash.status_code == 409
    assert "z-1" in detail(clash)
    assert (await admin.get("/api/v1/devices/pir-1")).json()["household_id"] == "h-dev"


async def test_unknown_device_is_a_404(lite_admin: httpx.AsyncClient) -> None:
    response = await lite_admin.get("/api/v1/devices/ghost")
    assert response.status_code == 404
    assert "ghost" in detail(response)


async def test_registering_a_heard_device_takes_it_off_the_unknown_list(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        for key, protocol in (
            ("door-0042", "anju-v1"),
            ("kitchen pir", "zigbee2mqtt"),
            ("door-0099", "anju-v1"),
        ):
            session.add(
                UnknownDevice(
                    key=key,
                    protocol=protocol,
                    first_seen_at=now,
                    last_seen_at=now,
                    message_count=3,
                    last_topic=f"anju/v1/{key}/event",
                    last_payload_head=b"{}",
                )
            )
    assert (await _register(admin, id="door-0042", type="door")).status_code == 201
    z = {"type": "pir", "protocol": "zigbee2mqtt", "external_name": "kitchen pir"}
    assert (await _register(admin, id="z-kitchen", **z)).status_code == 201
    listed = (await admin.get("/api/v1/ingest/unknown-devices")).json()
    assert [u["key"] for u in listed["items"]] == ["door-0099"]


async def test_device_list_filters_by_household_type_online_and_battery(
    ctx: Context, admin: httpx.AsyncClient
) -> None:
    for device_id, kind, household in (
        ("d-1", "door", "h-dev"),
        ("p-1", "pir", "h-dev"),
        ("p-2", "pir", "h-other"),
        ("b-1", "button", "h-other"),
    ):
        assert (await _register(admin, id=device_id, type=kind, household_id=household)).status_code == 201
    async with transaction(ctx.db) as session:
        seen = ctx.clock.now() - timedelta(minutes=3)
        await session.execute(update(Device).where(Device.id == "p-1").values(battery=12, last_seen_at=seen))
        await session.execute(update(Device).where(Device.id == "p-2").values(battery=55, online=False))
        await session.execute(update(Device).where(Device.id == "b-1").values(battery=19))
        await session.execute(update(Device).where(Device.id == "d-1").values(battery=18))

    async def ids(**params: Any) -> list[str]:
        response = await admin.get("/api/v1/devices", params=params)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["items"]]

    assert await ids(household_id="h-dev") == ["d-1", "p-1"]
    assert await ids(type="pir") == ["p-1", "p-2"]
    assert await ids(online="false") == ["p-2"]
    # Each profile has its own floor: button 30 %, PIR 20 %, door 15 % (sensors/*.toml).
    assert await ids(low_battery="true") == ["b-1", "p-1"]
    assert await ids(battery_below=50) == ["b-1", "d-1", "p-1"]
    assert await ids(low_battery="true", household_id="h-other") == ["b-1"]
    p1 = (await admin.get("/api/v1/devices/p-1")).json()
    assert p1["battery"] == 12
    assert p1["last_seen_at"] is not None
    assert (await admin.get("/api/v1/devices", params={"type": "smoke"})).status_code == 422
