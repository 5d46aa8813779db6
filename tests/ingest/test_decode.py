"""Decoding is pure: topic + payload + receive time + registry -> event, dead letter or unknown device."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from anju.domain import DeviceKind, EventName, Protocol
from anju.ingest.decode import (
    DeadLetterRecord,
    DeviceInfo,
    IgnoredMessage,
    StoredEvent,
    UnknownDeviceRecord,
)
from tests.support.ingest import NOW, decoder, info, kit_payload

TS_EXPECTED = "field 'ts': expected RFC 3339 time with offset or integer epoch milliseconds"
DEVICES = {
    (Protocol.ANJU_V1, "door-0001"): info("door-0001", DeviceKind.DOOR),
    (Protocol.ANJU_V1, "pir-0001"): info("pir-0001", DeviceKind.PIR),
    (Protocol.ANJU_V1, "btn-0001"): info("btn-0001", DeviceKind.BUTTON),
    (Protocol.ZIGBEE2MQTT, "hall/door"): info(
        "zdoor-1", DeviceKind.DOOR, protocol=Protocol.ZIGBEE2MQTT, external_name="hall/door"
    ),
    (Protocol.ZIGBEE2MQTT, "bedroom motion"): info(
        "zpir-1", DeviceKind.PIR, protocol=Protocol.ZIGBEE2MQTT, external_name="bedroom motion"
    ),
    (Protocol.ZIGBEE2MQTT, "sos"): info(
        "zbtn-1", DeviceKind.BUTTON, protocol=Protocol.ZIGBEE2MQTT, external_name="sos"
    ),
}


def lookup(protocol: Protocol, key: str) -> DeviceInfo | None:
    return DEVICES.get((protocol, key))


def decode(topic: str, payload: bytes | str) -> object:
    raw = payload.encode() if isinstance(payload, str) else payload
    return decoder().decode(topic, raw, NOW, lookup)


def reason(topic: str, payload: bytes | str) -> str:
    result = decode(topic, payload)
    assert isinstance(result, DeadLetterRecord), result
    return result.reason


def test_contract_examples_decode_to_events() -> None:
    door = decode(
        "anju/v1/door-0001/event",
        '{"seq":41,"ts":"2026-11-29T07:02:11.250+08:00","type":"door","event":"open","battery":88}',
    )
    assert isinstance(door, StoredEvent)
    assert (door.device_id, door.household_id, door.event, door.seq, door.battery) == (
        "door-0001",
        "h-1",
        EventName.OPEN,
        41,
        88,
    )
    assert door.ts == NOW - timedelta(hours=8) + timedelta(minutes=2, seconds=11, milliseconds=250)
    assert door.clock_skewed is True, "07:02+08:00 is eight hours before the receive time"

    pir = decode("anju/v1/pir-0001/event", '{"seq":903,"ts":1795900931250,"type":"pir","event":"motion"}')
    assert isinstance(pir, StoredEvent)
    assert pir.ts.timestamp() == 1795900931.25

    beat = decode(
        "anju/v1/pir-0001/heartbeat",
        '{"seq":904,"ts":"2026-11-29T15:00:00+08:00","battery":71,"rssi":-78,"fw":"1.4.2"}',
    )
    assert isinstance(beat, StoredEvent)
    assert (beat.event, beat.battery, beat.rssi, beat.firmware) == (EventName.HEARTBEAT, 71, -78, "1.4.2")
    assert beat.clock_skewed is False
    assert beat.event_time == beat.ts


def test_clock_more_than_five_minutes_off_is_flagged_and_receive_time_used() -> None:
    for offset, skewed in (
        (timedelta(minutes=4, seconds=59), False),
        (timedelta(minutes=5, seconds=1), True),
    ):
        for sign in (1, -1):
            result = decode(
                "anju/v1/btn-0001/event", kit_payload(3, NOW + sign * offset, type="button", event="press")
            )
            assert isinstance(result, StoredEvent)
            assert result.clock_skewed is skewed
            assert result.event_time == (NOW if skewed else NOW + sign * offset)
            assert result.ts == NOW + sign * offset


def test_tamper_is_valid_for_every_kind() -> None:
    for device_id, kind in (("door-0001", "door"), ("pir-0001", "pir"), ("btn-0001", "button")):
        result = decode(f"anju/v1/{device_id}/event", kit_payload(1, NOW, type=kind, event="tamper"))
        assert isinstance(result, StoredEvent)
        assert result.event is EventName.TAMPER


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{bad", "payload is not valid JSON: Expecting property name enclosed in double quotes"),
        (b"\xff\xfe{}", "payload is not UTF-8 text (bad byte at offset 0)"),
        (b"", "payload is empty: expected a JSON object"),
        (b"[1,2]", "payload must be a JSON object, got array"),
        (b'{"ts":"2026-11-29T07:00:00Z","type":"door","event":"open"}', "field 'seq' is missing"),
        (
            b'{"seq":"12","ts":"2026-11-29T07:00:00Z","type":"door","event":"open"}',
            "field 'seq': expected integer 0..4294967295, got string \"12\"",
        ),
        (
            b'{"seq":4294967296,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open"}',
            "field 'seq': expected integer 0..4294967295, got integer 4294967296",
        ),
        (
            b'{"seq":-1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open"}',
            "field 'seq': expected integer 0..4294967295, got integer -1",
        ),
        (
            b'{"seq":true,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open"}',
            "field 'seq': expected integer 0..4294967295, got boolean true",
        ),
        (
            b'{"seq":1.5,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open"}',
            "field 'seq': expected integer 0..4294967295, got number 1.5",
        ),
        (b'{"seq":1,"type":"door","event":"open"}', "field 'ts' is missing"),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00","type":"door","event":"open"}',
            f'{TS_EXPECTED}, got string "2026-11-29T07:00:00" (no UTC offset)',
        ),
        (
            b'{"seq":1,"ts":"yesterday","type":"door","event":"open"}',
            f'{TS_EXPECTED}, got string "yesterday"',
        ),
        (
            b'{"seq":1,"ts":1.5e12,"type":"door","event":"open"}',
            f"{TS_EXPECTED}, got number 1500000000000.0",
        ),
        (
            b'{"seq":1,"ts":false,"type":"door","event":"open"}',
            f"{TS_EXPECTED}, got boolean false",
        ),
        (b'{"seq":1,"ts":"2026-11-29T07:00:00Z","event":"open"}', "field 'type' is missing"),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"pir","event":"motion"}',
            "field 'type': device door-0001 is registered as 'door', the message says 'pir'",
        ),
        (b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door"}', "field 'event' is missing"),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"motion"}',
            "field 'event': string \"motion\" is not an event of a door (expected close, open, tamper)",
        ),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"heartbeat"}',
            "field 'event': string \"heartbeat\" is not an event of a door (expected close, open, tamper)",
        ),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open","battery":101}',
            "field 'battery': expected integer 0..100, got integer 101",
        ),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open","battery":"88"}',
            "field 'battery': expected integer 0..100, got string \"88\"",
        ),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open","rssi":true}',
            "field 'rssi': expected integer dBm -200..300, got boolean true",
        ),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open","fw":142}',
            "field 'fw': expected text of at most 64 characters, got integer 142",
        ),
        (
            b'{"seq":1,"ts":"2026-11-29T07:00:00Z","type":"door","event":"open","battery":NaN}',
            "payload is not valid JSON: NaN is not JSON",
        ),
    ],
)
def test_malformed_kit_message_becomes_a_dead_letter_with_a_readable_reason(
    payload: bytes, expected: str
) -> None:
    assert reason("anju/v1/door-0001/event", payload).startswith(expected)


def test_oversized_payload_is_refused_before_parsing_and_only_its_head_is_kept() -> None:
    payload = b"{" + b" " * (1024 * 1024) + b"}"
    result = decode("anju/v1/door-0001/event", payload)
    assert isinstance(result, DeadLetterRecord)
    assert result.reason == "payload of 1048578 bytes is over the 4096-byte limit"
    assert (result.payload_size, len(result.payload_head), result.device_id) == (1048578, 256, "door-0001")


def test_payload_of_exactly_four_kib_is_accepted() -> None:
    body = json.loads(kit_payload(1, NOW, type="door", event="open"))
    body["pad"] = ""
    body["pad"] = "x" * (4096 - len(json.dumps(body)))
    raw = json.dumps(body).encode()
    assert len(raw) == 4096
    assert isinstance(decode("anju/v1/door-0001/event", raw), StoredEvent)


@pytest.mark.parametrize("device_id", ["a" * 65, "door 1", "门磁-1"])
def test_device_id_outside_the_contract_charset_is_a_dead_letter(device_id: str) -> None:
    assert "in the topic: expected 1-64 of A-Z a-z 0-9 _ . -" in reason(f"anju/v1/{device_id}/event", b"{}")


def test_unregistered_kit_device_is_an_unknown_device_not_a_dead_letter() -> None:
    result = decode("anju/v1/door-9999/event", kit_payload(1, NOW, type="door", event="open"))
    assert isinstance(result, UnknownDeviceRecord)
    assert (result.protocol, result.key, result.topic) == (
        Protocol.ANJU_V1,
        "door-9999",
        "anju/v1/door-9999/event",
    )


def test_topic_that_no_profile_describes_is_a_dead_letter() -> None:
    assert reason("anju/v2/door-0001/event", b"{}") == "topic matches no device profile in sensors/"


def test_z2m_door_contact_false_is_open_and_true_is_close() -> None:
    payload = '{"battery":100,"contact":false,"device_temperature":26,"linkquality":153,"voltage":3035}'
    opened = decode("zigbee2mqtt/hall/door", payload)
    assert isinstance(opened, StoredEvent)
    assert (opened.device_id, opened.event, opened.battery, opened.rssi, opened.seq) == (
        "zdoor-1",
        EventName.OPEN,
        100,
        153,
        None,
    )
    assert opened.ts == opened.received_at == opened.event_time == NOW
    closed = decode("zigbee2mqtt/hall/door", '{"contact":true}')
    assert isinstance(closed, StoredEvent)
    assert closed.event is EventName.CLOSE


def test_z2m_occupancy_true_is_motion_and_false_is_only_a_status_report() -> None:
    motion = decode(
        "zigbee2mqtt/bedroom motion", '{"battery":97,"illuminance_lux":21,"linkquality":86,"occupancy":true}'
    )
    assert isinstance(motion, StoredEvent)
    assert motion.event is EventName.MOTION
    quiet = decode("zigbee2mqtt/bedroom motion", '{"battery":97,"occupancy":false}')
    assert isinstance(quiet, StoredEvent)
    assert quiet.event is EventName.HEARTBEAT
    assert quiet.battery == 97


@pytest.mark.parametrize(
    ("action", "event"),
    [
        ("single", EventName.PRESS),
        ("double", EventName.PRESS),
        ("hold", EventName.LONG_PRESS),
        ("", EventName.HEARTBEAT),
    ],
)
def test_z2m_button_actions(action: str, event: EventName) -> None:
    result = decode("zigbee2mqtt/sos", json.dumps({"action": action, "battery": 100, "linkquality": 86}))
    assert isinstance(result, StoredEvent)
    assert result.event is event


@pytest.mark.parametrize(
    ("payload", "event", "online"),
    [
        ("online", EventName.ONLINE, True),
        ("offline", EventName.OFFLINE, False),
        ('{"state":"offline"}', EventName.OFFLINE, False),
    ],
)
def test_z2m_availability_becomes_online_or_offline(payload: str, event: EventName, online: bool) -> None:
    result = decode("zigbee2mqtt/hall/door/availability", payload)
    assert isinstance(result, StoredEvent)
    assert (result.device_id, result.event, result.online) == ("zdoor-1", event, online)


def test_z2m_bad_availability_and_bad_state_are_dead_letters() -> None:
    assert reason("zigbee2mqtt/hall/door/availability", "maybe").startswith(
        "availability: expected online, offline"
    )
    assert reason("zigbee2mqtt/hall/door", '{"contact":false,"battery":"full"}') == (
        "field 'battery': expected a number 0..100, got string \"full\""
    )


def test_z2m_bridge_and_command_topics_are_ignored_and_unregistered_names_are_unknown() -> None:
    assert isinstance(decode("zigbee2mqtt/bridge/state", '{"state":"online"}'), IgnoredMessage)
    assert isinstance(decode("zigbee2mqtt/hall/door/set", '{"state":"ON"}'), IgnoredMessage)
    unknown = decode("zigbee2mqtt/kitchen lamp", '{"state":"ON"}')
    assert isinstance(unknown, UnknownDeviceRecord)
    assert (unknown.protocol, unknown.key) == (Protocol.ZIGBEE2MQTT, "kitchen lamp")


def test_observation_carries_event_time_and_household() -> None:
    result = decode("anju/v1/btn-0001/event", kit_payload(3, NOW, type="button", event="press", battery=90))
    assert isinstance(result, StoredEvent)
    obs = result.observation()
    assert (obs.household_id, obs.device_id, obs.kind, obs.event, obs.at, obs.battery) == (
        "h-1",
        "btn-0001",
        DeviceKind.BUTTON,
        EventName.PRESS,
        NOW,
        90,
    )


def test_a_field_given_twice_is_a_dead_letter_whichever_copy_a_parser_would_keep() -> None:
    # Found by tests/e2e/test_hostile_mqtt_fuzz.py: json.loads kept the last copy, so a press could hide
    # behind a harmless first "event" that another reader (a gateway, an audit tool) would believe.
    body = '{"seq":3,"ts":1795900931250,"type":"button","event":"tamper","event":"press"}'
    assert reason("anju/v1/btn-0001/event", body) == (
        "field 'event' appears more than once: field names must be unique"
    )
    assert "appears more than once" in reason("zigbee2mqtt/sos", '{"action":"single","action":"hold"}')
    nested = '{"seq":3,"ts":1795900931250,"type":"pir","event":"motion","meta":{"a":1,"a":2}}'
    assert reason("anju/v1/pir-0001/event", nested).startswith("field 'a' appears more than once")
