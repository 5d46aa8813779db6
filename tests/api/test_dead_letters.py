"""Dead letters and unknown devices over HTTP: every rejected byte visible, none crashing the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import DeadLetter, UnknownDevice
from tests.support.api import add_user, bearer, client_for


@pytest.fixture
async def staff(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    token = await add_user(ctx, Role.OPERATOR)
    async with client_for(ctx) as c:
        c.headers.update(bearer(token))
        yield c


async def test_dead_letters_show_reason_text_with_replacement_chars_and_exact_hex(
    ctx: Context, staff: httpx.AsyncClient
) -> None:
    now = ctx.clock.now()
    binary = b'{"seq":\xff\xfe1,"ts":"\xe5\xae\x89'  # invalid UTF-8, then a cut-off 安
    async with transaction(ctx.db) as session:
        session.add(
            DeadLetter(
                received_at=now - timedelta(seconds=5),
                topic="anju/v1/door-7/event",
                payload_head=b"not json",
                payload_size=8,
                reason="not valid JSON: Expecting value at 1:1",
                device_id="door-7",
            )
        )
        session.add(
            DeadLetter(
                received_at=now,
                topic="anju/v1/pir-3/event",
                payload_head=binary,
                payload_size=1_048_576,
                reason="payload is 1048576 bytes; the limit is 4096",
                device_id="pir-3",
            )
        )
    body = (await staff.get("/api/v1/ingest/dead-letters")).json()
    assert body["total"] == 2
    newest, older = body["items"]
    assert newest["topic"] == "anju/v1/pir-3/event"
    assert newest["payload_size"] == 1_048_576
    assert newest["reason"].startswith("payload is 1048576 bytes")
    assert newest["payload_hex"] == binary.hex()
    assert bytes.fromhex(newest["payload_hex"]) == binary
    assert newest["payload_text"].startswith('{"seq":\ufffd\ufffd1,"ts":"')
    assert older["payload_text"] == "not json"
    only = (await staff.get("/api/v1/ingest/dead-letters", params={"device_id": "door-7"})).json()
    assert [d["topic"] for d in only["items"]] == ["anju/v1/door-7/event"]
    recent = await staff.get("/api/v1/ingest/dead-letters", params={"since": now.isoformat(), "limit": 1})
    assert [d["device_id"] for d in recent.json()["items"]] == ["pir-3"]


async def test_unknown_devices_are_listed_most_recently_heard_first(
    ctx: Context, staff: httpx.AsyncClient
) -> None:
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        for i, key in enumerate(("door-old", "0x00158d00aa", "pir-new")):
            session.add(
                UnknownDevice(
                    key=key,
                    protocol="zigbee2mqtt" if key.startswith("0x") else "anju-v1",
                    first_seen_at=now - timedelta(hours=3),
                    last_seen_at=now - timedelta(hours=2 - i),
                    message_count=i + 1,
                    last_topic=f"anju/v1/{key}/event",
                    last_payload_head=b'{"seq":1}',
                )
            )
    body = (await staff.get("/api/v1/ingest/unknown-devices")).json()
    assert body["total"] == 3
    assert [u["key"] for u in body["items"]] == ["pir-new", "0x00158d00aa", "door-old"]
    assert body["items"][0]["message_count"] == 3
    assert body["items"][0]["payload_text"] == '{"seq":1}'
