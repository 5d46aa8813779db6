"""A new sensor kind, the bed occupancy mat: its row in the kind table, its profile, its labels, this test.

Lying down on the mat is a sign of life and ends "away" (before the kind table, only motion did, so
a resident who came home and went to bed stayed "away" to the engine).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from anju.config import PROJECT_ROOT
from anju.domain import DeviceKind, EventName, Protocol, Rule
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.ingest.decode import Decoder, DeviceInfo, StoredEvent
from anju.ingest.profiles import load_profiles
from anju.kinds import SENSOR_KINDS
from anju.replay import parse_row

SH = ZoneInfo("Asia/Shanghai")
HID = "h-bed"
#: Where the bed mat is named: the kind table and its labels (anju.vocabulary).
NAMED = re.compile(r"DeviceKind\.BED\b|EventName\.(OCCUPIED|VACANT)\b|kind\.bed\b|event\.(occupied|vacant)\b")


def local(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 1, day, hh, mm, tzinfo=SH)


def test_a_new_kind_takes_four_files_including_its_test() -> None:
    src, sensors = PROJECT_ROOT / "src" / "anju", PROJECT_ROOT / "sensors"
    sources = {p for p in src.rglob("*.py") if NAMED.search(p.read_text("utf-8"))}
    profiles = {p for p in sensors.glob("*.toml") if 'kind = "bed"' in p.read_text("utf-8")}
    assert src / "kinds.py" in sources
    assert len(sources) + len(profiles) + 1 <= 4, sorted(map(str, sources | profiles))


def test_the_bed_mat_is_described_once() -> None:
    bed = SENSOR_KINDS[DeviceKind.BED]
    assert bed.events == {EventName.OCCUPIED, EventName.VACANT} == bed.signs_of_life
    assert bed.ends_away == {EventName.OCCUPIED}
    assert bed.location_class == "bedroom" and bed.zigbee is None


def test_the_kit_bed_mat_profile_loads_and_its_messages_decode() -> None:
    profiles = load_profiles(PROJECT_ROOT / "sensors")
    profile = profiles["anju-bed"]
    assert profile.kind is DeviceKind.BED and profile.protocol is Protocol.ANJU_V1
    assert profile.allowed_events == {EventName.OCCUPIED, EventName.VACANT, EventName.TAMPER}
    device = DeviceInfo(
        device_id="bed-0001",
        household_id=HID,
        kind=DeviceKind.BED,
        protocol=Protocol.ANJU_V1,
        profile="anju-bed",
    )
    payload = b'{"seq":7,"ts":"2026-01-05T22:30:00+08:00","type":"bed","event":"occupied","battery":88}'
    stored = Decoder(profiles).decode("anju/v1/bed-0001/event", payload, local(5, 22, 30), lambda *_: device)
    assert isinstance(stored, StoredEvent)
    assert (stored.kind, stored.event, stored.battery) == (DeviceKind.BED, EventName.OCCUPIED, 88)


def test_replay_reads_bed_mat_rows() -> None:
    obs = parse_row(["2026-01-05T22:30:00+08:00", HID, "bed-1", "bed", "occupied", "88"])
    assert (obs.kind, obs.event, obs.battery) == (DeviceKind.BED, EventName.OCCUPIED, 88)


def engine() -> Engine:
    e = Engine(load_pack(default_pack_path()))
    devices = (
        DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR, location="entrance"),
        DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, location="living room"),
        DeviceSpec(device_id="bed-1", kind=DeviceKind.BED, location="卧室"),
    )
    e.configure([HouseholdSpec(household_id=HID, timezone="Asia/Shanghai", devices=devices)])
    return e


def ev(e: Engine, device: str, kind: DeviceKind, event: EventName, at: datetime) -> list[Finding]:
    return e.advance(at) + e.observe(
        Observation(household_id=HID, device_id=device, kind=kind, event=event, at=at)
    )


def test_getting_up_is_a_sign_of_life_that_restarts_the_silence() -> None:
    e = engine()
    ev(e, "pir-1", DeviceKind.PIR, EventName.MOTION, local(5, 9))
    ev(e, "bed-1", DeviceKind.BED, EventName.VACANT, local(5, 10))
    out = e.advance(local(5, 14))
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(5, 13))]


def test_coming_home_and_lying_down_ends_away_so_not_returned_does_not_fire() -> None:
    e = engine()
    ev(e, "pir-1", DeviceKind.PIR, EventName.MOTION, local(5, 9, 58))
    ev(e, "door-1", DeviceKind.DOOR, EventName.OPEN, local(5, 10))
    ev(e, "door-1", DeviceKind.DOOR, EventName.CLOSE, local(5, 10, 1))
    assert e.advance(local(5, 13)) == []  # away: a 3 h silence is not inactivity
    ev(e, "door-1", DeviceKind.DOOR, EventName.OPEN, local(5, 14))
    ev(e, "door-1", DeviceKind.DOOR, EventName.CLOSE, local(5, 14, 1))
    # Straight to bed, no motion sensor passed: home again all the same.
    ev(e, "bed-1", DeviceKind.BED, EventName.OCCUPIED, local(5, 14, 2))
    out = e.advance(local(5, 19))
    assert Rule.NOT_RETURNED not in [f.rule for f in out]
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(5, 17, 2))]
