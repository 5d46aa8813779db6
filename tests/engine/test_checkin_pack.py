"""The check-in section of a rule pack, packs that extend another, and what an answer is not."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from anju.config import PROJECT_ROOT
from anju.domain import CheckinAnswer, DeviceKind, EventName, Rule
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack, validate_overrides

SH = ZoneInfo("Asia/Shanghai")


def test_the_checkin_pack_is_the_default_pack_with_checkins_on() -> None:
    default, checkin = load_pack(default_pack_path()), load_pack(PROJECT_ROOT / "rules" / "checkin.toml")
    assert checkin.name == "checkin" and default.section("checkin")["enabled"] is False
    assert checkin.section("checkin") == {**default.section("checkin"), "enabled": True}
    assert {k: v for k, v in checkin.raw.items() if k not in ("name", "checkin")} == {
        k: v for k, v in default.raw.items() if k not in ("name", "checkin")
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('extends = "../default.toml"', "extends: expected the file name"),
        ('extends = "bad.toml"', "bad.toml"),
        ('extends = "nowhere.toml"', "nowhere.toml"),
    ],
)
def test_a_pack_that_extends_a_bad_pack_is_refused_with_a_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    (tmp_path / "bad.toml").write_text(f"{text}\n", encoding="utf-8")
    with pytest.raises((ValueError, OSError), match=reason):
        load_pack(tmp_path / "bad.toml")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"checkin": {"rules": ["button"]}}, "checkin.rules: expected a list of some of"),
        ({"checkin": {"rules": "inactivity"}}, "checkin.rules"),
        ({"checkin": {"window": "10x"}}, "checkin.window"),
        ({"checkin": {"quiet_calls": "never"}}, "checkin.quiet_calls"),
        ({"checkin": {"quiet_weak_places": ["attic"]}}, "checkin.quiet_weak_places"),
    ],
)
def test_bad_checkin_settings_are_refused_naming_the_setting(
    overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_overrides(overrides)


def test_a_home_whose_suspicions_are_all_old_keeps_no_checkin_state() -> None:
    e = Engine(load_pack(PROJECT_ROOT / "rules" / "checkin.toml"))
    pir = DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, location="kitchen")
    e.configure([HouseholdSpec(household_id="h", timezone="Asia/Shanghai", devices=(pir,))])

    def motion(day: int, hh: int) -> None:
        at = datetime(2026, 3, day, hh, tzinfo=SH)
        e.advance(at)
        e.observe(
            Observation(
                household_id="h", device_id="pir-1", kind=DeviceKind.PIR, event=EventName.MOTION, at=at
            )
        )

    motion(1, 9)
    motion(1, 16)  # silent 7 h: asked at 12:00, unanswered
    assert e.snapshot("h")["rules"]["checkin"]["recent"]
    for day in (2, 3, 4):
        for hh in range(6, 23, 2):
            motion(day, hh)
    assert "checkin" not in e.snapshot("h")["rules"]


def test_an_answer_is_no_device_and_no_sign_of_life() -> None:
    e = Engine(load_pack(PROJECT_ROOT / "rules" / "checkin.toml"))
    pir = DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, heartbeat_s=600, location="kitchen")
    e.configure([HouseholdSpec(household_id="h", timezone="Asia/Shanghai", devices=(pir,))])
    t = datetime(2026, 3, 1, 10, tzinfo=SH)
    e.observe(
        Observation(household_id="h", device_id="pir-1", kind=DeviceKind.PIR, event=EventName.MOTION, at=t)
    )
    assert e.answer("h", CheckinAnswer.OK, t.timestamp() + 3600) == []  # no check-in under way
    snap = e.snapshot("h")
    assert set(snap["devices"]) == {"pir-1"} and snap["last_activity"] == t.timestamp()
    assert e.offline_devices("h") == []
    found = e.advance(datetime(2026, 3, 1, 13, tzinfo=SH))
    assert [f.rule for f in found if f.rule is Rule.CHECKIN]  # the silence still runs from 10:00
    assert e.answer("nobody-yet", CheckinAnswer.NO_ANSWER, t.timestamp()) == []
