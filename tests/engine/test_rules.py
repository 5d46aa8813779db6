"""The rule engine on hand-built event sequences, in the household's local time (Asia/Shanghai)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind, EventName, Rule, Severity
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack

SH = ZoneInfo("Asia/Shanghai")
HID = "h-test"
DEVICES = (
    DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, heartbeat_s=3600),
    DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR),
    DeviceSpec(device_id="btn-1", kind=DeviceKind.BUTTON),
)
KIND = {"pir-1": DeviceKind.PIR, "door-1": DeviceKind.DOOR, "btn-1": DeviceKind.BUTTON}


def local(day: int, hh: int, mm: int = 0) -> datetime:
    """A local Shanghai time in January 2026."""
    return datetime(2026, 1, day, hh, mm, tzinfo=SH)


def engine(overrides: dict[str, object] | None = None, devices: tuple[DeviceSpec, ...] = DEVICES) -> Engine:
    e = Engine(load_pack(default_pack_path()))
    e.configure(
        [
            HouseholdSpec(
                household_id=HID, timezone="Asia/Shanghai", devices=devices, overrides=dict(overrides or {})
            )
        ]
    )
    return e


def ev(e: Engine, device: str, event: EventName, at: datetime, battery: int | None = None) -> list[Finding]:
    out = e.advance(at)
    out += e.observe(
        Observation(
            household_id=HID,
            device_id=device,
            kind=KIND.get(device, DeviceKind.PIR),
            event=event,
            at=at,
            battery=battery,
        )
    )
    return out


def rules(findings: list[Finding]) -> list[Rule]:
    return [f.rule for f in findings]


def test_button_press_raises_one_critical_finding_keyed_by_device_and_time() -> None:
    e = engine()
    out = ev(e, "btn-1", EventName.PRESS, local(5, 10))
    assert [(f.rule, f.severity) for f in out] == [(Rule.BUTTON, Severity.CRITICAL)]
    assert out[0].key == "btn-1@2026-01-05T02:00:00.000+00:00"


def test_daytime_silence_fires_inactivity_at_the_day_threshold_with_its_evidence() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    assert e.advance(local(5, 12, 59)) == []
    out = e.advance(local(5, 14))
    assert rules(out) == [Rule.INACTIVITY]
    f = out[0]
    assert f.at == local(5, 13) and f.severity is Severity.HIGH
    assert f.detail["threshold_s"] == 3 * 3600 and f.detail["threshold_source"] == "default"
    assert f.detail["day_part"] == "day" and f.detail["local_time"] == "13:00"
    assert f.detail["last_activity"] == "2026-01-05T02:00:00.000+00:00"


def test_evening_silence_crossing_into_night_waits_for_the_night_threshold() -> None:
    # 20:00 + 3 h evening threshold would be 23:00, but night (10 h) begins at 22:00.
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 20))
    out = e.advance(local(6, 12))
    assert rules(out) == [Rule.INACTIVITY]
    assert out[0].at == local(6, 6) and out[0].detail["day_part"] == "morning"


def test_silence_that_begins_one_minute_before_night_is_judged_by_the_night_threshold() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 21, 59))
    out = e.advance(local(6, 12))
    assert rules(out) == [Rule.INACTIVITY]
    assert out[0].at == local(6, 7, 59)


def test_activity_resets_the_silence_and_the_same_silence_alerts_once() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    ev(e, "pir-1", EventName.MOTION, local(5, 12))
    assert e.advance(local(5, 14, 59)) == []
    out = e.advance(local(5, 16))
    assert [f.at for f in out] == [local(5, 15)]
    assert e.advance(local(5, 21)) == []


def test_no_morning_activity_fires_at_usual_wake_plus_margin_and_replaces_inactivity() -> None:
    # The default pack waits for the learned wake time; here the configured one is used at once.
    e = engine({"no_morning_activity": {"learned_only": False}})
    ev(e, "pir-1", EventName.MOTION, local(5, 23))
    out = e.advance(local(6, 12))
    assert rules(out) == [Rule.NO_MORNING_ACTIVITY]  # 07:30 + 1 h, before the 10 h inactivity at 09:00
    assert out[0].at == local(6, 8, 30) and out[0].key == "no_morning_activity@2026-01-06"


def test_leaving_home_suppresses_inactivity_and_not_returned_fires_instead() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 9, 58))
    ev(e, "door-1", EventName.OPEN, local(5, 10))
    ev(e, "door-1", EventName.CLOSE, local(5, 10, 1))
    out = e.advance(local(5, 20))
    # Day-part "day" allows 8 h away: 10:01 + 8 h.
    assert rules(out) == [Rule.NOT_RETURNED]
    assert out[0].at == local(5, 18, 1) and out[0].detail["left_at"] == "2026-01-05T02:01:00.000+00:00"


def test_motion_after_the_door_means_home_again_and_inactivity_watches_again() -> None:
    e = engine()
    ev(e, "door-1", EventName.OPEN, local(5, 10))
    ev(e, "door-1", EventName.CLOSE, local(5, 10, 1))
    assert e.advance(local(5, 13)) == []  # away: a 3 h silence is not inactivity
    ev(e, "door-1", EventName.OPEN, local(5, 14))
    ev(e, "door-1", EventName.CLOSE, local(5, 14, 1))
    ev(e, "pir-1", EventName.MOTION, local(5, 14, 2))
    out = e.advance(local(5, 18))
    assert rules(out) == [Rule.INACTIVITY] and out[0].at == local(5, 17, 2)


def test_door_closing_then_motion_inside_is_not_away() -> None:
    e = engine()
    ev(e, "door-1", EventName.OPEN, local(5, 10))
    ev(e, "door-1", EventName.CLOSE, local(5, 10, 1))
    ev(e, "pir-1", EventName.MOTION, local(5, 10, 3))
    out = e.advance(local(5, 14))
    assert rules(out) == [Rule.INACTIVITY] and out[0].at == local(5, 13, 3)


def test_leaving_at_night_fires_night_door_after_confirmation_then_not_returned() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 23, 28))
    ev(e, "door-1", EventName.OPEN, local(5, 23, 30))
    ev(e, "door-1", EventName.CLOSE, local(5, 23, 30))
    out = e.advance(local(6, 3))
    assert rules(out) == [Rule.NIGHT_DOOR, Rule.NOT_RETURNED]
    assert out[0].at == local(5, 23, 40) and out[0].detail["local_time"] == "23:30"
    assert out[1].at == local(6, 1, 30)  # night part: 2 h away


def test_night_door_opened_and_resident_stays_in_is_quiet() -> None:
    e = engine()
    ev(e, "door-1", EventName.OPEN, local(5, 23, 30))
    ev(e, "door-1", EventName.CLOSE, local(5, 23, 31))
    ev(e, "pir-1", EventName.MOTION, local(5, 23, 32))
    assert Rule.NIGHT_DOOR not in rules(e.advance(local(6, 5)))


def test_door_left_open_fires_once_after_the_threshold() -> None:
    e = engine()
    ev(e, "door-1", EventName.OPEN, local(5, 10))
    ev(e, "pir-1", EventName.MOTION, local(5, 10, 5))
    out = e.advance(local(5, 10, 30))
    assert rules(out) == [Rule.DOOR_LEFT_OPEN] and out[0].at == local(5, 10, 20)
    assert out[0].severity is Severity.MEDIUM
    assert rules(e.advance(local(5, 11))) == []


def test_device_offline_after_two_missed_heartbeats_only_for_heartbeat_devices() -> None:
    e = engine()
    ev(e, "pir-1", EventName.HEARTBEAT, local(5, 10))
    ev(e, "pir-1", EventName.MOTION, local(5, 10, 30))
    ev(e, "door-1", EventName.HEARTBEAT, local(5, 10))  # the door has no heartbeat profile
    out = [f for f in e.advance(local(5, 13)) if f.rule is Rule.DEVICE_OFFLINE]
    assert [(f.device_id, f.at) for f in out] == [("pir-1", local(5, 12, 30))]
    assert e.offline_devices(HID) == ["pir-1"]
    ev(e, "pir-1", EventName.HEARTBEAT, local(5, 13, 30))
    assert e.offline_devices(HID) == []


def test_a_device_that_never_sent_a_heartbeat_is_never_declared_offline() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    assert Rule.DEVICE_OFFLINE not in rules(e.advance(local(8, 10)))


def test_low_battery_fires_once_until_the_battery_is_replaced() -> None:
    e = engine()
    out = ev(e, "pir-1", EventName.MOTION, local(5, 10), battery=15)
    out += ev(e, "pir-1", EventName.MOTION, local(5, 10, 5), battery=14)
    assert rules(out) == [Rule.LOW_BATTERY] and out[0].detail["threshold"] == 20
    ev(e, "pir-1", EventName.MOTION, local(5, 10, 10), battery=100)
    assert rules(ev(e, "pir-1", EventName.MOTION, local(5, 10, 15), battery=10)) == [Rule.LOW_BATTERY]


def test_tamper_is_a_low_finding_and_no_sign_of_life() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    out = ev(e, "pir-1", EventName.TAMPER, local(5, 12))
    assert [(f.rule, f.severity) for f in out] == [(Rule.TAMPER, Severity.LOW)]
    assert [f.at for f in e.advance(local(5, 14))] == [local(5, 13)]


def test_restart_in_the_middle_of_a_pending_timer_fires_once_at_the_right_time() -> None:
    first = engine()
    ev(first, "pir-1", EventName.MOTION, local(5, 10))
    first.advance(local(5, 11))
    saved = first.snapshot(HID)
    second = engine()
    second.restore(HID, saved)
    assert second.advance(local(5, 12)) == []
    out = second.advance(local(5, 15))  # the service was down from 12:00 to 15:00
    assert rules(out) == [Rule.INACTIVITY] and out[0].at == local(5, 13)
    third = engine()
    third.restore(HID, second.snapshot(HID))
    assert third.advance(local(5, 18)) == []


def test_snapshot_is_json_and_carries_the_learned_profile() -> None:
    import json

    e = engine()
    for day in range(5, 9):
        for hour in (7, 9, 12, 15, 18, 21):
            ev(e, "pir-1", EventName.MOTION, local(day, hour))
    data = json.loads(json.dumps(e.snapshot(HID)))
    assert data["profile"]["days"] >= 3
    restored = engine()
    restored.restore(HID, data)
    assert restored.snapshot(HID) == data


def test_watermark_never_goes_backwards() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    e.advance(local(5, 12))
    assert e.advance(local(5, 9)) == []
    assert e.watermark == local(5, 12)


def test_late_event_older_than_the_last_activity_changes_nothing() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    e.observe(
        Observation(
            household_id=HID, device_id="pir-1", kind=DeviceKind.PIR, event=EventName.MOTION, at=local(5, 9)
        )
    )
    assert [f.at for f in e.advance(local(5, 14))] == [local(5, 13)]


def test_overrides_edited_later_change_the_threshold_of_the_next_silence() -> None:
    e = engine()
    e.configure(
        [
            HouseholdSpec(
                household_id=HID,
                timezone="Asia/Shanghai",
                devices=DEVICES,
                overrides={"inactivity": {"threshold": {"day": "2h"}, "min": {"day": "1h"}}},
            )
        ]
    )
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    out = e.advance(local(5, 13))
    assert [f.at for f in out] == [local(5, 12)] and out[0].detail["threshold_s"] == 7200


def test_a_device_registered_later_joins_heartbeat_watching() -> None:
    e = engine(devices=(DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR),))
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    e.configure([HouseholdSpec(household_id=HID, timezone="Asia/Shanghai", devices=DEVICES)])
    ev(e, "door-1", EventName.HEARTBEAT, local(5, 10, 1))
    ev(e, "pir-1", EventName.HEARTBEAT, local(5, 10, 2))
    offline = [f for f in e.advance(local(5, 13)) if f.rule is Rule.DEVICE_OFFLINE]
    assert [f.device_id for f in offline] == ["pir-1"]


def test_learned_routine_adapts_the_threshold_and_flags_a_day_far_below_normal() -> None:
    e = engine()
    found: list[Finding] = []
    for day in range(1, 16):
        for minute in range(7 * 60, 22 * 60, 20):
            found += ev(e, "pir-1", EventName.MOTION, local(day, minute // 60, minute % 60))
    assert not [f for f in found if f.severity.rank >= Severity.HIGH.rank]
    # A quiet day: only two events, at 07:00 and 08:45.
    found = ev(e, "pir-1", EventName.MOTION, local(16, 7))
    found += ev(e, "pir-1", EventName.MOTION, local(16, 8, 45))
    found += e.advance(local(17, 7))
    inactivity = [f for f in found if f.rule is Rule.INACTIVITY]
    assert inactivity and inactivity[0].detail["threshold_source"].startswith("learned")
    # Activity every 20 min from 07:00 teaches a short threshold for silences that begin then:
    # the minimum, 2 h after the 08:45 event (the 07:00 silence ended at 08:45, within its 2 h).
    assert inactivity[0].at == local(16, 10, 45)
    anomalies = [f.detail["kind"] for f in found if f.rule is Rule.ROUTINE_ANOMALY]
    assert anomalies == ["low_activity"]


def test_restless_night_is_a_routine_anomaly() -> None:
    e = engine()
    found: list[Finding] = []
    for day in range(1, 12):
        for minute in range(7 * 60, 22 * 60, 30):
            found += ev(e, "pir-1", EventName.MOTION, local(day, minute // 60, minute % 60))
    for minute in range(0, 5 * 60, 4):  # up all night on the 12th
        found += ev(e, "pir-1", EventName.MOTION, local(12, minute // 60, minute % 60))
    found += e.advance(local(12, 7))
    kinds = [f.detail["kind"] for f in found if f.rule is Rule.ROUTINE_ANOMALY]
    assert kinds == ["restless_night"]


AGAIN = {"inactivity": {"alert_again_at_max": True}}


def test_alert_again_at_max_is_off_by_default_and_one_silence_alerts_once() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    assert [f.at for f in e.advance(local(6, 10))] == [local(5, 13)]


def test_alert_again_at_max_alerts_a_second_time_when_the_silence_reaches_the_max() -> None:
    e = engine(AGAIN)
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    out = e.advance(local(6, 10))
    # 3 h (day threshold before warm-up), then the day's max of 8 h after the same sign of life.
    assert [(f.rule, f.at) for f in out] == [(Rule.INACTIVITY, local(5, 13)), (Rule.INACTIVITY, local(5, 18))]
    assert out[0].key != out[1].key
    assert out[1].severity is Severity.HIGH
    assert out[1].detail["threshold_s"] == 8 * 3600
    assert out[1].detail["threshold_by"] == "day part max, second alert"


def test_alert_again_at_max_is_not_doubled_when_the_first_alert_came_at_the_max() -> None:
    e = engine({"inactivity": {"alert_again_at_max": True, "threshold": {"day": "8h"}}})
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    assert [f.at for f in e.advance(local(6, 10))] == [local(5, 18)]


def test_alert_again_at_max_survives_a_restart_between_the_two_alerts_and_fires_once() -> None:
    first = engine(AGAIN)
    ev(first, "pir-1", EventName.MOTION, local(5, 10))
    assert [f.at for f in first.advance(local(5, 14))] == [local(5, 13)]
    second = engine(AGAIN)
    second.restore(HID, first.snapshot(HID))
    assert [f.at for f in second.advance(local(5, 20))] == [local(5, 18)]
    third = engine(AGAIN)
    third.restore(HID, second.snapshot(HID))
    assert third.advance(local(6, 9)) == []


def test_alert_again_at_max_waits_for_a_new_silence_after_signs_of_life() -> None:
    e = engine(AGAIN)
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    assert [f.at for f in e.advance(local(5, 14))] == [local(5, 13)]
    ev(e, "pir-1", EventName.MOTION, local(5, 14))  # moving again: the first silence is over
    out = e.advance(local(5, 23))
    # One sign of life is not a re-arm: that new silence is watched with the day's max (8 h).
    assert [f.at for f in out] == [local(5, 22)]


def test_redelivered_copies_of_a_stray_event_do_not_re_arm_the_silence_rules() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, local(5, 10))
    assert [f.at for f in e.advance(local(5, 14))] == [local(5, 13)]
    ev(e, "pir-1", EventName.MOTION, local(5, 14, 30))
    e.advance(local(5, 15))
    for _ in range(3):  # QoS 1 redelivery: the same event, the same instant
        ev(e, "pir-1", EventName.MOTION, local(5, 14, 30))
    out = e.advance(local(6, 12))
    # Still one sign of life: the cap (8 h), not the 3 h threshold, and the evidence says so.
    assert [(f.at, f.detail["threshold_s"], f.detail["silent_for_s"]) for f in out] == [
        (local(5, 22, 30), 8 * 3600, 8 * 3600)
    ]


def test_a_no_morning_activity_alert_at_the_max_is_not_followed_by_a_second_alert() -> None:
    e = engine(
        {
            "no_morning_activity": {"learned_only": False, "wake": "03:00"},
            "inactivity": {"alert_again_at_max": True, "threshold": {"evening": "11h", "night": "11h"}},
        }
    )
    ev(e, "pir-1", EventName.MOTION, local(5, 17, 59))
    out = e.advance(local(6, 12))
    assert [(f.rule, f.at) for f in out] == [(Rule.NO_MORNING_ACTIVITY, local(6, 4))]


def test_a_snapshot_from_before_the_second_alert_gives_no_second_alert_for_its_alerted_silence() -> None:
    first = engine()
    ev(first, "pir-1", EventName.MOTION, local(5, 10))
    assert [f.at for f in first.advance(local(5, 14))] == [local(5, 13)]
    # The same state as the engine of that time wrote it (version 3, one flat table), less the field
    # the second alert added.
    old = json.loads((Path(__file__).parent / "data" / "engine_snapshots_v3.json").read_text())
    old = old["before_second_alert"]
    del old["cap_alerted"]
    restored = engine(AGAIN)
    restored.restore(HID, old)
    assert restored.advance(local(6, 10)) == []


def test_a_door_event_redelivered_after_motion_of_the_same_instant_does_not_leave_twice() -> None:
    e = engine()
    found = ev(e, "door-1", EventName.OPEN, local(5, 0))  # midnight: the night window
    found += e.advance(local(5, 0, 10))
    found += ev(e, "pir-1", EventName.MOTION, local(5, 0))  # late, stamped with the door's instant
    found += ev(e, "door-1", EventName.OPEN, local(5, 0))  # the door message again (QoS 1)
    found += e.advance(local(5, 12))
    keys = [(f.rule, f.key) for f in found]
    assert [f.rule for f in found].count(Rule.NIGHT_DOOR) == 1
    assert len(keys) == len(set(keys))
