"""The embedded broker of ``anju demo``: MQTT 3.1.1 with login, offline QoS 1 messages kept."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from anju.context import Context
from anju.domain import DeviceKind
from anju.ingest import Ingestor
from anju.ingest.broker import EmbeddedBroker
from anju.store.models import SensorEvent
from tests.support.ingest import Publisher, eventually, kit_payload, register, uid
from tests.support.settings import make_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    embedded = EmbeddedBroker("127.0.0.1", _free_port(), users={"anju": "ingest-pw", "kit": "kit-pw"})
    await embedded.start()
    try:
        yield embedded
    finally:
        await embedded.stop()


async def test_ingestor_stores_through_the_embedded_broker_with_credentials_and_keeps_offline_messages(
    broker: EmbeddedBroker, sqlite_url: str
) -> None:
    ctx = Context.create(make_settings(sqlite_url, ingest_batch_wait_ms=10))
    button = f"btn-{uid()}"
    await register(ctx.db, f"h-{uid()}", [(button, DeviceKind.BUTTON)])
    url = f"mqtt://anju:ingest-pw@127.0.0.1:{broker.port}"

    def start() -> Ingestor:
        return Ingestor(ctx, mqtt_url=url, protocol="v311", client_id="anju-demo-ingest")

    async def seqs() -> list[int | None]:
        async with ctx.db() as session:
            query = select(SensorEvent.seq).where(SensorEvent.device_id == button).order_by(SensorEvent.seq)
            return list((await session.scalars(query)).all())

    publisher = Publisher(broker.url, username="kit", password="kit-pw", v311=True)
    ingestor = start()
    try:
        await ingestor.start()
        await asyncio.wait_for(ingestor.connected.wait(), 10)
        await publisher.publish(
            f"anju/v1/{button}/event", kit_payload(1, ctx.clock.now(), type="button", event="press")
        )
        assert await eventually(seqs) == [1]
        await ingestor.stop()

        await publisher.publish(
            f"anju/v1/{button}/event", kit_payload(2, ctx.clock.now(), type="button", event="press")
        )
        ingestor = start()
        await ingestor.start()
        assert await eventually(lambda: _at_least(seqs(), 2)) == [1, 2]
    finally:
        publisher.close()
        await ingestor.stop()
        await ctx.close()


@pytest.mark.parametrize(
    ("username", "password"), [(None, None), ("kit", "wrong")], ids=["anonymous", "wrong"]
)
async def test_embedded_broker_refuses_anonymous_and_wrong_password(
    broker: EmbeddedBroker, username: str | None, password: str | None
) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uid()}", protocol=paho.MQTTv311)
    if username:
        client.username_pw_set(username, password)
    result: list[object] = []
    client.on_connect = lambda c, u, f, reason, p: result.append(reason)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        await eventually(lambda: _true(bool(result)), within_s=5)
    finally:
        client.loop_stop()
        client.disconnect()
    assert result[0].is_failure, f"{username!r} was let in"  # type: ignore[attr-defined]


async def _at_least(query: object, n: int) -> object:
    found = await query  # type: ignore[misc]
    return found if len(found) >= n else None


async def _true(value: bool) -> bool:
    return value
