"""Learned behaviour: outings, silences by the hour they begin, door-only departures, re-arming."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind, EventName, Rule, Severity
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack

SH = ZoneInfo("Asia/Shanghai")
HID = "h-learn"
KIND = {"pir-1": DeviceKind.PIR, "door-1": DeviceKind.DOOR}


def local(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=SH)


def engine() -> Engine:
    e = Engine(load_pack(default_pack_path()))
    devices = tuple(DeviceSpec(device_id=d, kind=k) for d, k in KIND.items())
    e.configure([HouseholdSpec(household_id=HID, timezone="Asia/Shanghai", devices=devices)])
    return e


def ev(e: Engine, device: str, event: EventName, at: datetime) -> list[Finding]:
    out = e.advance(at)
    return out + e.observe(
        Observation(household_id=HID, device_id=device, kind=KIND[device], event=event, at=at)
    )


def moving(e: Engine, start: datetime, end: datetime, every_min: int = 20) -> list[Finding]:
    out: list[Finding] = []
    t = start
    while t < end:
        out += ev(e, "pir-1", EventName.MOTION, t)
        t += timedelta(minutes=every_min)
    return out


def test_ten_hour_outings_learned_over_two_weeks_do_not_alert_at_eight_hours_but_do_at_the_cap() -> None:
    e = engine()
    found: list[Finding] = []
    for day in range(1, 15):  # out 08:01-18:02 every day, home and moving otherwise
        found += moving(e, local(day, 6), local(day, 8))
        found += ev(e, "door-1", EventName.OPEN, local(day, 8))
        found += ev(e, "door-1", EventName.CLOSE, local(day, 8, 1))
        found += ev(e, "door-1", EventName.OPEN, local(day, 18))
        found += ev(e, "door-1", EventName.CLOSE, local(day, 18, 1))
        found += moving(e, local(day, 18, 2), local(day, 22))
    assert [f for f in found if f.rule is Rule.NOT_RETURNED][:1] and all(
        f.at < local(5, 0) for f in found if f.rule is Rule.NOT_RETURNED
    )  # only while the outings were still being learned
    found = moving(e, local(15, 6), local(15, 8))
    found += ev(e, "door-1", EventName.OPEN, local(15, 8))
    found += ev(e, "door-1", EventName.CLOSE, local(15, 8, 1))
    assert [f.rule for f in e.advance(local(15, 16, 30))] == []  # the default would fire at 16:01
    out = [f for f in e.advance(local(16, 6)) if f.rule is Rule.NOT_RETURNED]
    # Learned 10 h x 1.2 + 1 h = 13 h, lowered to the morning cap of 12 h: 20:01.
    assert [f.at for f in out] == [local(15, 20, 1)]
    assert out[0].detail["threshold_source"] == "learned, lowered to the maximum"
    assert out[0].detail["threshold_s"] == 12 * 3600


def test_a_door_that_opens_with_no_close_and_no_motion_after_counts_as_leaving() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(2, 9, 58))
    ev(e, "door-1", EventName.OPEN, local(2, 10))
    out = [f for f in e.advance(local(2, 19)) if f.severity.rank >= Severity.HIGH.rank]
    assert [(f.rule, f.at) for f in out] == [(Rule.NOT_RETURNED, local(2, 18))]


def test_a_silence_that_begins_when_the_home_usually_naps_is_allowed_its_usual_length() -> None:
    e = engine()
    found: list[Finding] = []
    for day in range(1, 15):  # a 3 h nap from 13:00 every day, otherwise moving every 20 min
        found += moving(e, local(day, 7), local(day, 13, 1))
        found += moving(e, local(day, 16), local(day, 22))
    assert not [f for f in found if f.rule is Rule.INACTIVITY and f.at >= local(4, 0)]
    moving(e, local(15, 7), local(15, 13, 1))
    out = e.advance(local(15, 18))
    # Learned 3 h x 1.0 + 1 h = 4 h after the 13:00 event (the day minimum is 2 h).
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(15, 17, 0))]
    assert out[0].detail["threshold_source"] == "learned"
    moving(e, local(16, 7), local(16, 10, 1))
    out = e.advance(local(16, 13))
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(16, 12, 0))]  # 10:00 + 2 h


def test_one_stray_event_after_a_silence_alert_is_watched_only_with_the_safety_cap() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(2, 10))
    assert [f.at for f in e.advance(local(2, 14))] == [local(2, 13)]
    ev(e, "pir-1", EventName.MOTION, local(2, 14, 30))  # a glitch in an empty home, or a few steps
    assert e.advance(local(2, 22, 29)) == []  # not the 3 h threshold: not re-armed yet
    # ... but not unwatched either: the day part's cap (8 h) after the stray still alerts.
    out = e.advance(local(2, 22, 31))
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(2, 22, 30))]
    assert out[0].detail["threshold_s"] == 8 * 3600
    assert out[0].detail["threshold_source"].startswith("safety cap: only 1 sign(s) of life")
    moving(e, local(3, 9), local(3, 10), every_min=10)  # the resident is back: re-armed
    assert [f.rule for f in e.advance(local(3, 14))] == [Rule.INACTIVITY]


def test_a_fall_after_two_steps_following_a_silence_alert_is_still_found() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(2, 10))
    assert [f.at for f in e.advance(local(2, 14))] == [local(2, 13)]
    ev(e, "pir-1", EventName.MOTION, local(2, 13, 5))  # gets up, two steps, falls
    ev(e, "pir-1", EventName.MOTION, local(2, 13, 6))
    out = e.advance(local(3, 13))
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(2, 21, 6))]
    assert out[0].severity is Severity.HIGH


def test_a_version_1_snapshot_is_restored_without_its_old_profile() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(2, 10))
    data = e.snapshot(HID)
    data["version"] = 1
    data["profile"] = {"hist": [0.0] * 10}
    restored = engine()
    restored.restore(HID, data)
    assert [f.at for f in restored.advance(local(2, 14))] == [local(2, 13)]
