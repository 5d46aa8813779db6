"""The live service end to end: MQTT → ingest → engine → incident, on PostgreSQL and the real Mosquitto."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from anju.accounts import create_user
from anju.clock import SimClock
from anju.context import Context
from anju.domain import DeviceKind, Role
from anju.runtime import MqttTarget, Service
from anju.store.db import transaction
from anju.store.models import Alert, EngineSnapshot, Incident
from anju.web.app import create_app
from tests.support.ingest import Publisher, eventually, kit_payload, register, uid
from tests.support.settings import make_settings

PASSWORD = "operator-pw-123"


async def _operator_token(ctx: Context, client: httpx.AsyncClient) -> str:
    name = f"op-{uid()}"
    async with transaction(ctx.db) as session:
        await create_user(session, username=name, password=PASSWORD, role=Role.OPERATOR, clock=ctx.clock)
    resp = await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


@pytest.fixture
async def live(pg_url: str, mqtt_url: str) -> AsyncIterator[tuple[Context, Service, Publisher]]:
    ctx = Context.create(
        make_settings(pg_url, mqtt_url=mqtt_url, mqtt_session_expiry_s=60, ingest_batch_wait_ms=10)
    )
    service = Service(ctx, MqttTarget(url=mqtt_url, client_id=f"test-live-{uid()}"), serve_http=False)
    publisher = Publisher(mqtt_url)
    try:
        yield ctx, service, publisher
    finally:
        publisher.close()
        await service.stop()
        await ctx.close()


async def test_button_press_over_mqtt_is_a_critical_incident_in_the_api_within_one_second(
    live: tuple[Context, Service, Publisher],
) -> None:
    ctx, service, publisher = live
    hid, btn = f"h-{uid()}", f"btn-{uid()}"
    await register(ctx.db, hid, [(btn, DeviceKind.BUTTON)])
    await service.start()
    assert service.ingestor is not None
    await asyncio.wait_for(service.ingestor.connected.wait(), 10)
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://anju") as client:
        token = await _operator_token(ctx, client)
        headers = {"Authorization": f"Bearer {token}"}

        async def queue() -> list[dict[str, object]]:
            resp = await client.get("/api/v1/incidents", params={"household_id": hid}, headers=headers)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            items: list[dict[str, object]] = body["items"] if isinstance(body, dict) else body
            return items

        assert await queue() == []
        payload = kit_payload(1, datetime.now(UTC), type="button", event="press")
        started = time.monotonic()
        await publisher.publish(f"anju/v1/{btn}/event", payload)
        incidents = await eventually(queue, within_s=5.0, interval=0.01)
        elapsed = time.monotonic() - started

        assert elapsed < 1.0, f"the press took {elapsed:.3f} s to reach the queue"
        assert len(incidents) == 1
        assert incidents[0]["severity"] == "critical"
        assert incidents[0]["state"] == "open"
        assert incidents[0]["rule"] == "button"

        # The same message again (a redelivery) and a second press: one incident, two alerts.
        await publisher.publish(f"anju/v1/{btn}/event", payload)
        second = kit_payload(2, datetime.now(UTC), type="button", event="press")
        await publisher.publish(f"anju/v1/{btn}/event", second)

        async def alerts() -> int:
            async with ctx.db() as session:
                n = await session.scalar(
                    select(func.count()).select_from(Alert).where(Alert.household_id == hid)
                )
            return int(n or 0)

        await eventually(lambda: _equals(alerts, 2), within_s=5.0)
        await asyncio.sleep(0.3)
        assert await alerts() == 2
        assert len(await queue()) == 1


async def _equals(fn: object, expected: int) -> bool:
    return await fn() == expected  # type: ignore[operator,no-any-return]


async def test_a_timer_pending_across_a_restart_fires_once_right_after_the_restart(
    pg_url: str, mqtt_url: str
) -> None:
    """A door opened before a restart and left open: door_left_open fires once, after the restart."""
    start = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai: daytime, no night rules
    clock = SimClock(start)
    settings = make_settings(pg_url, mqtt_url=mqtt_url, mqtt_session_expiry_s=60, ingest_batch_wait_ms=10)
    client_id = f"test-restart-{uid()}"
    hid, door, pir = f"h-{uid()}", f"door-{uid()}", f"pir-{uid()}"
    publisher = Publisher(mqtt_url)

    async def door_alerts(ctx: Context) -> int:
        async with ctx.db() as session:
            n = await session.scalar(
                select(func.count())
                .select_from(Alert)
                .where(Alert.household_id == hid, Alert.rule == "door_left_open")
            )
        return int(n or 0)

    ctx = Context.create(settings, clock=clock)
    try:
        await register(ctx.db, hid, [(door, DeviceKind.DOOR), (pir, DeviceKind.PIR)])
        service = Service(ctx, MqttTarget(url=mqtt_url, client_id=client_id), serve_http=False)
        await service.start()
        assert service.ingestor is not None
        await asyncio.wait_for(service.ingestor.connected.wait(), 10)
        await publisher.publish(
            f"anju/v1/{pir}/event", kit_payload(1, clock.now(), type="pir", event="motion")
        )
        await publisher.publish(
            f"anju/v1/{door}/event", kit_payload(1, clock.now(), type="door", event="open")
        )

        async def snapshot_has_door() -> bool:
            await service.pipeline.save_snapshots()
            async with ctx.db() as session:
                return await session.get(EngineSnapshot, hid) is not None

        try:
            await eventually(snapshot_has_door, within_s=5.0)
        finally:
            await service.stop()
        assert await door_alerts(ctx) == 0
    finally:
        await ctx.close()

    # Down for an hour: the 20-minute door timer came due while nobody was watching.
    clock.advance(3600)
    for _attempt in range(2):
        ctx = Context.create(settings, clock=clock)
        try:
            service = Service(ctx, MqttTarget(url=mqtt_url, client_id=client_id), serve_http=False)
            await service.start()
            try:
                assert await door_alerts(ctx) == 1
                async with ctx.db() as session:
                    alert = await session.scalar(
                        select(Alert).where(Alert.household_id == hid, Alert.rule == "door_left_open")
                    )
                    assert alert is not None
                    assert alert.at - start <= timedelta(minutes=21), "fired at its due time, not late"
                    incident = await session.get(Incident, alert.incident_id)
                    assert incident is not None and incident.state == "open"
            finally:
                await service.stop()
        finally:
            await ctx.close()
        clock.advance(60)
    publisher.close()
