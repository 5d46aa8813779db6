"""The sensor-kind table: one description per device kind, and the engine, ingest and simulator read it."""

from __future__ import annotations

import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from anju.domain import COMMON_EVENTS, DeviceKind, EventName, Protocol, Rule
from anju.engine.core import Engine
from anju.engine.learn import LOCATIONS
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.ingest.decode import Decoder, DeviceInfo, StoredEvent
from anju.ingest.profiles import parse_profile
from anju.kinds import EVENTS_BY_KIND, LIVENESS_EVENTS, SENSOR_KINDS, SENSOR_KINDS_BY_NAME, SensorKind
from anju.simulator.devices import Message, formatter
from anju.simulator.fleet import ZIGBEE, SimDevice

SH = ZoneInfo("Asia/Shanghai")
HID = "h-kinds"
PIR_HEAD = b'{"battery":80,"illuminance_lux":20,"linkquality":135,'
SIGNS = [(k.kind, e) for k in SENSOR_KINDS.values() for e in sorted(k.signs_of_life)]


def local(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 1, 5, hh, mm, tzinfo=SH)


def test_every_kind_has_one_description_and_its_events_are_its_own() -> None:
    assert set(SENSOR_KINDS) == set(DeviceKind)
    seen: set[EventName] = set()
    for kind, description in SENSOR_KINDS.items():
        assert description.kind is kind and SENSOR_KINDS_BY_NAME[kind.value] is description
        assert description.ends_away <= description.signs_of_life <= description.events
        assert not description.events & (COMMON_EVENTS | LIVENESS_EVENTS)
        assert not description.events & seen, "an event names one kind, so the engine can route by it"
        seen |= description.events
        assert description.location_class is None or description.location_class in LOCATIONS
        assert EVENTS_BY_KIND[kind] == description.events


def test_descriptions_are_frozen_and_keyword_only() -> None:
    door = SENSOR_KINDS[DeviceKind.DOOR]
    with pytest.raises(AttributeError):
        door.events = frozenset()  # type: ignore[misc]
    with pytest.raises(TypeError):
        SensorKind(DeviceKind.DOOR, frozenset(), frozenset())  # type: ignore[misc]


def engine(kind: DeviceKind) -> Engine:
    e = Engine(load_pack(default_pack_path()))
    devices = (
        DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR),
        DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR),
        DeviceSpec(device_id="dev-1", kind=kind, location="bedroom"),
    )
    e.configure([HouseholdSpec(household_id=HID, timezone="Asia/Shanghai", devices=devices)])
    return e


def ev(e: Engine, device: str, kind: DeviceKind, event: EventName, at: datetime) -> list[Finding]:
    obs = Observation(household_id=HID, device_id=device, kind=kind, event=event, at=at)
    return e.advance(at) + e.observe(obs)


# A door's events are signs of life too, but they may begin an outing (tests/engine/test_rules.py covers it).
@pytest.mark.parametrize(("kind", "event"), [s for s in SIGNS if s[0] is not DeviceKind.DOOR])
def test_a_sign_of_life_of_any_kind_restarts_the_silence(kind: DeviceKind, event: EventName) -> None:
    e = engine(kind)
    ev(e, "pir-1", DeviceKind.PIR, EventName.MOTION, local(9))
    ev(e, "dev-1", kind, event, local(10))
    out = e.advance(local(14))
    # The day part allows 3 h of silence: counted from the 10:00 sign of life, not the 09:00 motion.
    assert [f.at for f in out if f.rule is Rule.INACTIVITY] == [local(13)]


@pytest.mark.parametrize("event", sorted(COMMON_EVENTS | LIVENESS_EVENTS))
def test_liveness_and_tamper_are_no_sign_of_life(event: EventName) -> None:
    e = engine(DeviceKind.PIR)
    ev(e, "pir-1", DeviceKind.PIR, EventName.MOTION, local(9))
    ev(e, "dev-1", DeviceKind.PIR, event, local(10))
    out = e.advance(local(14))
    assert [f.at for f in out if f.rule is Rule.INACTIVITY] == [local(12)]


@pytest.mark.parametrize(("kind", "event"), [s for s in SIGNS if s[0] is not DeviceKind.DOOR])
def test_only_the_signs_of_life_that_end_away_bring_the_resident_home(
    kind: DeviceKind, event: EventName
) -> None:
    e = engine(kind)
    ev(e, "door-1", DeviceKind.DOOR, EventName.OPEN, local(10))
    ev(e, "door-1", DeviceKind.DOOR, EventName.CLOSE, local(10, 1))
    assert [f.rule for f in e.advance(local(13))] == []  # away: a 3 h silence is not inactivity
    ev(e, "door-1", DeviceKind.DOOR, EventName.OPEN, local(14))
    ev(e, "door-1", DeviceKind.DOOR, EventName.CLOSE, local(14, 1))
    ev(e, "dev-1", kind, event, local(14, 2))
    out = [f for f in e.advance(local(19)) if f.rule in (Rule.INACTIVITY, Rule.NOT_RETURNED)]
    if event in SENSOR_KINDS[kind].ends_away:
        assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(17, 2))]
    else:
        assert [f.rule for f in out] == [Rule.NOT_RETURNED]


def test_a_zigbee_profile_may_map_a_reading_onto_the_observation() -> None:
    profile = parse_profile(
        tomllib.loads(
            """
name = "lux-pir"
title = "PIR with an illuminance reading"
kind = "pir"
protocol = "zigbee2mqtt"

[topics]
state = "zigbee2mqtt/{friendly_name}"
availability = "zigbee2mqtt/{friendly_name}/availability"

[fields]
battery = "battery"
value = "illuminance_lux"

[events.occupancy]
true = "motion"
"""
        )
    )
    device = DeviceInfo(
        device_id="zpir-9",
        household_id=HID,
        kind=DeviceKind.PIR,
        protocol=Protocol.ZIGBEE2MQTT,
        profile="lux-pir",
        external_name="hall",
    )
    decoder = Decoder({"lux-pir": profile}, max_clock_skew_s=300)
    at = local(10)
    stored = decoder.decode(
        "zigbee2mqtt/hall", b'{"battery":90,"illuminance_lux":21.5,"occupancy":true}', at, lambda *_: device
    )
    assert isinstance(stored, StoredEvent)
    assert stored.observation().value == 21.5 and stored.observation().battery == 90
    bare = decoder.decode("zigbee2mqtt/hall", b'{"occupancy":true}', at, lambda *_: device)
    assert isinstance(bare, StoredEvent) and bare.observation().value is None


@pytest.mark.parametrize(
    ("kind", "event", "payload"),
    [
        ("door", "open", b'{"battery":80,"contact":false,"linkquality":135,"voltage":3120}'),
        ("door", "close", b'{"battery":80,"contact":true,"linkquality":135,"voltage":3120}'),
        (
            "pir",
            "motion",
            b'{"battery":80,"illuminance_lux":20,"linkquality":135,"occupancy":true,"voltage":3120}',
        ),
        (
            "pir",
            "clear",
            b'{"battery":80,"illuminance_lux":20,"linkquality":135,"occupancy":false,"voltage":3120}',
        ),
        ("button", "press", b'{"action":"single","battery":80,"linkquality":135}'),
        ("button", "long_press", b'{"action":"hold","battery":80,"linkquality":135}'),
        ("button", "heartbeat", b'{"battery":80,"linkquality":135,"voltage":3120}'),
        ("door", "tamper", b'{"battery":80,"linkquality":135,"tamper":true,"voltage":3120}'),
    ],
)
def test_the_simulator_encodes_zigbee_state_with_the_kinds_encoder(
    kind: str, event: str, payload: bytes
) -> None:
    device = SimDevice(
        id="d-1",
        type=kind,
        location="hall",
        protocol=ZIGBEE,
        profile=f"aqara-{kind}",
        external_name="hall",
        heartbeat_s=None,
        report_s=3600,
        battery_low=20,
    )
    msg = Message(0.0, HID, device, event, 0.0, None, None, battery=80, rssi=-60)
    assert msg.payload(formatter("Asia/Shanghai")) == payload
