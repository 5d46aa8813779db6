"""Engine snapshots: the version 3 form that databases in the field hold (written by the engine before
the rules became modules, ``tests/engine/data/engine_snapshots_v3.json``) restores and goes on exactly as
that engine went on; the current form round-trips."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from anju.domain import DeviceKind, EventName
from anju.engine.core import SNAPSHOT_VERSION, Engine
from anju.engine.model import DeviceSpec, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.engine.rules import RULES
from anju.replay import alert_line

V3: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "engine_snapshots_v3.json").read_text())
HID = "h-test"
DEVICES = (
    DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, heartbeat_s=3600, location="bedroom"),
    DeviceSpec(device_id="pir-2", kind=DeviceKind.PIR, heartbeat_s=3600, location="kitchen"),
    DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR, heartbeat_s=3600),
    DeviceSpec(device_id="btn-1", kind=DeviceKind.BUTTON, battery_low=30),
)
KIND = {d.device_id: d.kind for d in DEVICES}
CASES = [name for name, case in V3.items() if "alerts" in case]


def engine(overrides: dict[str, Any]) -> Engine:
    e = Engine(load_pack(default_pack_path()))
    e.configure(
        [HouseholdSpec(household_id=HID, timezone="Asia/Shanghai", devices=DEVICES, overrides=overrides)]
    )
    return e


def go_on(e: Engine, case: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for device, event, at, battery in case["after"]:
        o = Observation(
            household_id=HID,
            device_id=device,
            kind=KIND[device],
            event=EventName(event),
            at=datetime.fromisoformat(at),
            battery=battery,
        )
        lines += [alert_line(f) for f in e.advance(o.at)]
        lines += [alert_line(f) for f in e.observe(o)]
    return lines + [alert_line(f) for f in e.advance(datetime.fromisoformat(case["until"]))]


@pytest.mark.parametrize("name", CASES)
def test_a_version_3_snapshot_goes_on_as_the_engine_that_wrote_it_went_on(name: str) -> None:
    case = V3[name]
    assert case["snapshot"]["version"] == 3
    e = engine(case["overrides"])
    e.restore(HID, case["snapshot"])
    assert go_on(e, case) == case["alerts"]


@pytest.mark.parametrize("name", CASES)
def test_a_restored_version_3_snapshot_is_written_in_the_current_form_and_round_trips(name: str) -> None:
    case = V3[name]
    first = engine(case["overrides"])
    first.restore(HID, case["snapshot"])
    data = json.loads(json.dumps(first.snapshot(HID)))
    assert data["version"] == SNAPSHOT_VERSION
    second = engine(case["overrides"])
    second.restore(HID, data)
    assert second.snapshot(HID) == data
    assert go_on(second, case) == case["alerts"]


def test_each_rule_keeps_its_own_part_of_the_snapshot() -> None:
    e = engine({})
    e.restore(HID, V3["learned_home_door_open"]["snapshot"])
    rules = e.snapshot(HID)["rules"]
    # Parts are named for rules that keep state (the stateless ones, button and tamper, have none;
    # a rule with nothing to keep, as check-ins while none is under way, may leave its part out).
    assert set(rules) <= {r.name for r in RULES if r.state is not None}
    assert {"away", "inactivity", "door_left_open", "low_battery"} <= set(rules)
    assert rules["door_left_open"]["doors"]["door-1"][0] > 0  # the door left open before the cut
    assert rules["low_battery"]["low_since"]["btn-1"] > 0
