"""Property tests: whatever a message holds, decoding never raises and its outcome always stores.

Issue 11, line 1: one bad message harms only itself. The strongest form, checked here on SQLite and
PostgreSQL: for arbitrary bytes, arbitrary JSON and kit-shaped objects with arbitrary field values,
on any topic the service subscribes to, ``Decoder.decode`` returns an event, a dead letter or an
unknown device — and ``store_batch`` commits it, alone and in a batch with valid events. So the
database never refuses what decoding let through, and the ingestor's batch split is a last resort.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from anju.context import Context
from anju.domain import DeviceKind, Protocol
from anju.ingest.decode import (
    DeadLetterRecord,
    Decoded,
    DeviceInfo,
    IgnoredMessage,
    StoredEvent,
    UnknownDeviceRecord,
)
from anju.ingest.persist import store_batch
from anju.store.db import transaction
from anju.store.models import DeadLetter, SensorEvent, UnknownDevice
from tests.support.ingest import NOW, decoder, info, kit_payload, register

KIT = [("pp-pir", DeviceKind.PIR), ("pp-door", DeviceKind.DOOR), ("pp-btn", DeviceKind.BUTTON)]
Z2M = [("pp-zpir", DeviceKind.PIR, "hall motion"), ("pp-zbtn", DeviceKind.BUTTON, "sos")]
DEVICES: dict[tuple[Protocol, str], DeviceInfo] = {
    **{(Protocol.ANJU_V1, d): info(d, k, household_id="h-pp") for d, k in KIT},
    **{
        (Protocol.ZIGBEE2MQTT, name): info(
            d, k, household_id="h-pp-z", protocol=Protocol.ZIGBEE2MQTT, external_name=name
        )
        for d, k, name in Z2M
    },
}
DECODER = decoder()
#: Sequence numbers of the valid presses stored beside hostile messages, unique across examples.
PRESS_SEQ = itertools.count(1)

# Any code point, and often the ones databases refuse (NUL, lone surrogates, category Cs), which
# st.characters() alone draws only about once in 40 strings.
HOSTILE_CHARS = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\u2028", "\ufeff", "\U0010ffff"]
any_text = st.text(
    st.characters(codec=None) | st.sampled_from(HOSTILE_CHARS) | st.characters(categories=["Cs"]),
    max_size=40,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(any_text, inner, max_size=5),
    max_leaves=25,
)
# Nesting bombs under 4 KiB: json.loads raises RecursionError on these, which is not a ValueError.
bombs = st.integers(20, 1300).flatmap(
    lambda n: st.sampled_from(
        ["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, '{"seq":1,"ts":1,"x":' + "[" * n + "]" * n + "}"]
    ).map(str.encode)
)
kit_topics = st.sampled_from(
    [f"anju/v1/{d}/{c}" for d, _ in KIT for c in ("event", "heartbeat")]
    + ["anju/v1/pp-unknown/event", "anju/v1/x y/event", "anju/v1/\u00e9/heartbeat"]
)
z2m_topics = st.sampled_from(
    [f"zigbee2mqtt/{n}" for _, _, n in Z2M]
    + [f"zigbee2mqtt/{n}/availability" for _, _, n in Z2M]
    + ["zigbee2mqtt/nobody", "zigbee2mqtt/bridge/state"]
)
topics = kit_topics | z2m_topics | any_text.map(lambda t: "anju/v1/" + t + "/event")
# Valid messages, then one or two fields replaced or added with arbitrary values: reaches every
# check a field has and every column a valid event writes (fw, battery, rssi, ts, last_seen).
VALID_KIT = {
    "pp-pir": ("pir", "motion"),
    "pp-door": ("door", "open"),
    "pp-btn": ("button", "press"),
}
kit_fields = st.sampled_from(["seq", "ts", "type", "event", "battery", "rssi", "fw"]) | any_text
z2m_fields = st.sampled_from(["occupancy", "action", "battery", "linkquality", "last_seen"]) | any_text


def _corrupted(base: dict[str, Any], names: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    changes = st.dictionaries(names, any_json | any_text, min_size=1, max_size=2)
    return changes.map(lambda change: {**base, **change})


@st.composite
def kit_shaped(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    device = draw(st.sampled_from(sorted(VALID_KIT)))
    kind, event = VALID_KIT[device]
    base = {"seq": draw(st.integers(0, 2**31)), "ts": 1_795_900_931_250, "type": kind, "event": event}
    base |= {"battery": 88, "rssi": -60, "fw": "1.4.2"}
    channel = draw(st.sampled_from(["event", "heartbeat"]))
    return f"anju/v1/{device}/{channel}", draw(_corrupted(base, kit_fields))


@st.composite
def z2m_shaped(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from([n for _, _, n in Z2M]))
    base = {"occupancy": True, "action": "single", "battery": 90, "linkquality": 120}
    base["last_seen"] = "2026-11-29T07:02:11+08:00"
    return f"zigbee2mqtt/{name}", draw(_corrupted(base, z2m_fields))


def _lookup(protocol: Protocol, key: str) -> DeviceInfo | None:
    return DEVICES.get((protocol, key))


def _encodings(value: Any) -> list[bytes]:
    """The JSON text of ``value`` as a client could send it: escaped, raw UTF-8, raw surrogates."""
    escaped = json.dumps(value).encode()
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return [escaped] if raw == escaped else [escaped, raw]


def _decode(topic: str, payload: bytes) -> Decoded:
    outcome = DECODER.decode(topic, payload, NOW, _lookup)
    assert isinstance(outcome, StoredEvent | DeadLetterRecord | UnknownDeviceRecord | IgnoredMessage)
    if isinstance(outcome, DeadLetterRecord):
        assert outcome.reason
        assert (outcome.payload_head, outcome.payload_size) == (
            payload[: len(outcome.payload_head)],
            len(payload),
        )
    return outcome


async def _store(ctx: Context, decoded: list[Decoded]) -> None:
    """One batch with a valid press beside the hostile outcomes: all of it commits."""
    events = [d for d in decoded if isinstance(d, StoredEvent)]
    dead = [d for d in decoded if isinstance(d, DeadLetterRecord)]
    unknown = [d for d in decoded if isinstance(d, UnknownDeviceRecord)]
    before = await _counts(ctx)
    seq = next(PRESS_SEQ)
    body = kit_payload(seq, NOW + timedelta(seconds=seq), type="button", event="press")
    press = DECODER.decode("anju/v1/pp-btn/event", body, NOW, _lookup)
    assert isinstance(press, StoredEvent)
    async with transaction(ctx.db) as session:
        outcome = await store_batch(session, events=[*events, press], dead_letters=dead, unknown=unknown)
    after = await _counts(ctx)
    assert press in outcome.new
    assert after["events"] - before["events"] == len(outcome.new)
    assert after["dead"] - before["dead"] == len(dead)


async def _counts(ctx: Context) -> dict[str, int]:
    async with ctx.db() as session:
        return {
            "events": await session.scalar(select(func.count()).select_from(SensorEvent)) or 0,
            "dead": await session.scalar(select(func.count()).select_from(DeadLetter)) or 0,
            "unknown": await session.scalar(select(func.count()).select_from(UnknownDevice)) or 0,
        }


@pytest.fixture
async def homes(ctx: Context) -> Context:
    """The context with the households and devices of ``DEVICES`` registered (once per test)."""
    await register(ctx.db, "h-pp", list(KIT))
    await register(ctx.db, "h-pp-z", list(Z2M), protocol=Protocol.ZIGBEE2MQTT)
    return ctx


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(topic=topics, payload=st.binary(max_size=600) | bombs)
async def test_arbitrary_bytes_on_any_topic_decode_and_store(
    homes: Context, topic: str, payload: bytes
) -> None:
    await _store(homes, [_decode(topic, payload)])


@PROPERTY
@given(topic=kit_topics | z2m_topics, value=any_json)
async def test_arbitrary_json_decodes_and_stores(homes: Context, topic: str, value: Any) -> None:
    await _store(homes, [_decode(topic, payload) for payload in _encodings(value)])


@PROPERTY
@given(message=kit_shaped() | z2m_shaped())
async def test_valid_messages_with_arbitrary_fields_decode_and_store(
    homes: Context, message: tuple[str, dict[str, Any]]
) -> None:
    topic, obj = message
    await _store(homes, [_decode(topic, payload) for payload in _encodings(obj)])


@PROPERTY
@given(batch=st.lists(st.tuples(topics, any_json | st.binary(max_size=200)), min_size=2, max_size=12))
async def test_a_batch_of_hostile_messages_stores_whole_with_a_valid_press(
    homes: Context, batch: list[tuple[str, Any]]
) -> None:
    decoded: list[Decoded] = []
    for topic, value in batch:
        payloads = [value] if isinstance(value, bytes) else _encodings(value)
        decoded.extend(_decode(topic, p) for p in payloads)
    await _store(homes, decoded)
