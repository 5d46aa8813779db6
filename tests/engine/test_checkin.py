"""Check-ins: a suspicion is put to the resident before anyone is paged (issue 13, CONTRACT.md 2 and 6)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from anju.config import PROJECT_ROOT
from anju.domain import CheckinAnswer, DeviceKind, EventName, Rule, Severity
from anju.engine.core import SNAPSHOT_VERSION, Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.replay import alert_line

SH = ZoneInfo("Asia/Shanghai")
HID = "h-ci"
KIND = {"pir-1": DeviceKind.PIR, "pir-2": DeviceKind.PIR, "door-1": DeviceKind.DOOR}
CHECKIN_PACK = load_pack(PROJECT_ROOT / "rules" / "checkin.toml")


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=SH)


def engine(overrides: dict[str, Any] | None = None, *, pack: Any = CHECKIN_PACK) -> Engine:
    e = Engine(pack)
    devices = (
        DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, location="living room"),
        DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR),
        DeviceSpec(device_id="pir-2", kind=DeviceKind.PIR, location="bedroom"),
    )
    e.configure(
        [
            HouseholdSpec(
                household_id=HID, timezone="Asia/Shanghai", devices=devices, overrides=overrides or {}
            )
        ]
    )
    return e


def ev(e: Engine, device: str, event: EventName, when: datetime) -> list[Finding]:
    out = e.advance(when)
    return out + e.observe(
        Observation(household_id=HID, device_id=device, kind=KIND[device], event=event, at=when)
    )


def answer(e: Engine, what: CheckinAnswer, when: datetime) -> list[Finding]:
    return e.advance(when) + e.answer(HID, what, when.timestamp())


def silent_from_ten(e: Engine) -> list[Finding]:
    """Motion until 10:00 on day 1 (before warm-up the day's threshold is 3 h: suspicion at 13:00)."""
    return ev(e, "pir-1", EventName.MOTION, at(1, 9, 30)) + ev(e, "pir-1", EventName.MOTION, at(1, 10))


def test_a_suspicion_becomes_a_checkin_and_unanswered_raises_the_rules_own_high_after_the_window() -> None:
    e = engine()
    assert silent_from_ten(e) == []
    asked = e.advance(at(1, 13))
    assert [(f.rule, f.severity, f.at) for f in asked] == [(Rule.CHECKIN, Severity.MEDIUM, at(1, 13))]
    ci = asked[0]
    assert ci.detail["window_s"] == 600 and ci.detail["rule"] == "inactivity"
    assert (
        ci.detail["evidence"]["silent_for_s"] == 3 * 3600
        and ci.key == "checkin:" + ci.detail["suspicion_key"]
    )
    assert e.advance(at(1, 13, 9)) == []
    high = e.advance(at(1, 13, 10))
    assert [(f.rule, f.severity, f.at) for f in high] == [(Rule.INACTIVITY, Severity.HIGH, at(1, 13, 10))]
    assert high[0].key == ci.detail["suspicion_key"]
    assert high[0].detail["checkin"]["answer"] == "unanswered"
    assert high[0].detail["silent_for_s"] == 3 * 3600  # the evidence as found, plus the check-in
    assert e.advance(at(1, 17, 59)) == []


def test_the_high_after_an_unanswered_checkin_has_the_key_it_has_without_checkins() -> None:
    plain = engine({"checkin": {"enabled": False}})
    silent_from_ten(plain)
    direct = plain.advance(at(1, 13))
    e = engine()
    silent_from_ten(e)
    later = e.advance(at(1, 13, 10))
    assert [f.key for f in direct] == [f.key for f in later if f.rule is Rule.INACTIVITY]


def test_ok_closes_the_checkin_and_a_silence_that_goes_on_is_asked_about_again() -> None:
    e = engine()
    silent_from_ten(e)
    e.advance(at(1, 13))
    assert answer(e, CheckinAnswer.OK, at(1, 13, 4)) == []
    assert e.advance(at(1, 17, 3)) == []
    again = e.advance(at(1, 17, 4))  # reask 4 h: fine when called, maybe fallen since
    assert [(f.rule, f.detail["asked_again"], f.key.endswith("#2")) for f in again] == [
        (Rule.CHECKIN, 1, True)
    ]
    assert answer(e, CheckinAnswer.OK, at(1, 17, 6)) == []
    assert [f.rule for f in e.advance(at(1, 21, 16))] == [Rule.CHECKIN, Rule.INACTIVITY]
    assert ev(e, "pir-1", EventName.MOTION, at(1, 21, 30)) == []
    assert e.advance(at(1, 23)) == []


def test_a_sign_of_life_within_the_window_closes_the_checkin_quietly() -> None:
    e = engine()
    silent_from_ten(e)
    e.advance(at(1, 13))
    assert ev(e, "pir-1", EventName.MOTION, at(1, 13, 5)) == []
    assert e.advance(at(1, 14)) == []


def test_help_raises_critical_at_once_and_no_answer_raises_the_high_at_once() -> None:
    e = engine()
    silent_from_ten(e)
    e.advance(at(1, 13))
    helped = answer(e, CheckinAnswer.HELP, at(1, 13, 2))
    assert [(f.rule, f.severity, f.at) for f in helped] == [
        (Rule.INACTIVITY, Severity.CRITICAL, at(1, 13, 2))
    ]
    assert helped[0].key.startswith("help:") and helped[0].detail["checkin"]["answer"] == "help"
    assert e.advance(at(1, 14)) == []

    e = engine()
    silent_from_ten(e)
    e.advance(at(1, 13))
    none = answer(e, CheckinAnswer.NO_ANSWER, at(1, 13, 7))
    assert [(f.rule, f.severity, f.at) for f in none] == [(Rule.INACTIVITY, Severity.HIGH, at(1, 13, 7))]
    assert e.advance(at(1, 14)) == []


def test_help_without_a_checkin_under_way_is_still_critical() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, at(1, 9))
    helped = answer(e, CheckinAnswer.HELP, at(1, 9, 30))
    assert [(f.rule, f.severity) for f in helped] == [(Rule.CHECKIN, Severity.CRITICAL)]


def test_a_household_that_opted_out_is_paged_at_once() -> None:
    e = engine({"checkin": {"opt_out": True}})
    silent_from_ten(e)
    assert [(f.rule, f.severity) for f in e.advance(at(1, 13))] == [(Rule.INACTIVITY, Severity.HIGH)]


NIGHT = {"inactivity": {"threshold": {"night": "2h"}, "min": {"night": "1h"}}}


def test_in_quiet_hours_a_silence_after_the_bedroom_waits_for_the_end_of_quiet_hours() -> None:
    e = engine(NIGHT)
    ev(e, "pir-2", EventName.MOTION, at(1, 23, 30))
    assert e.advance(at(2, 5, 59)) == []  # suspicion at 01:30, not strong: nobody is woken
    asked = e.advance(at(2, 6))
    assert [(f.rule, f.at) for f in asked] == [(Rule.CHECKIN, at(2, 6))]
    assert asked[0].detail["suspected_at"].startswith("2026-03-01T17:30")  # 01:30 local
    assert [f.rule for f in e.advance(at(2, 6, 10))] == [Rule.INACTIVITY]


def test_in_quiet_hours_a_sign_of_life_drops_the_kept_suspicion() -> None:
    e = engine(NIGHT)
    ev(e, "pir-2", EventName.MOTION, at(1, 23, 30))
    e.advance(at(2, 2))
    assert ev(e, "pir-2", EventName.MOTION, at(2, 3)) == []
    assert [f for f in e.advance(at(2, 6, 30)) if f.at < at(2, 5)] == []


def test_quiet_calls_always_calls_at_night_and_strong_evidence_calls_at_once() -> None:
    e = engine({**NIGHT, "checkin": {"quiet_calls": "always"}})
    ev(e, "pir-2", EventName.MOTION, at(1, 23, 30))
    assert [(f.rule, f.at) for f in e.advance(at(2, 1, 30))] == [(Rule.CHECKIN, at(2, 1, 30))]
    # The night's max lowered to 2 h: the suspicion at 01:30 is strong (reached the max) as found.
    e = engine({"inactivity": {"threshold": {"night": "2h"}, "min": {"night": "1h"}, "max": {"night": "2h"}}})
    ev(e, "pir-2", EventName.MOTION, at(1, 23, 30))
    assert [(f.rule, f.at) for f in e.advance(at(2, 1, 30))] == [(Rule.CHECKIN, at(2, 1, 30))]


def test_in_quiet_hours_a_silence_somewhere_that_is_no_bed_is_called_about_at_once() -> None:
    e = engine(NIGHT)
    e = engine({**NIGHT, "checkin": {"quiet_weak_places": ["bedroom"]}})
    ev(e, "pir-1", EventName.MOTION, at(1, 23, 30))  # the living room: not asleep in bed
    assert [(f.rule, f.at) for f in e.advance(at(2, 1, 30))] == [(Rule.CHECKIN, at(2, 1, 30))]
    e = engine(NIGHT)  # the pack's weak places: bedroom and living room (a doze in the armchair)
    ev(e, "pir-1", EventName.MOTION, at(1, 23, 30))
    assert e.advance(at(2, 5, 59)) == []


def test_not_returned_is_asked_and_ok_teaches_the_outing() -> None:
    e = engine()
    ev(e, "pir-1", EventName.MOTION, at(1, 9, 50))
    ev(e, "door-1", EventName.OPEN, at(1, 10))
    ev(e, "door-1", EventName.CLOSE, at(1, 10, 1))
    asked = e.advance(at(1, 18, 1))
    assert [f.detail.get("rule") for f in asked] == ["not_returned"]
    assert answer(e, CheckinAnswer.OK, at(1, 18, 5)) == []
    assert e.advance(at(1, 22, 4)) == []
    assert [f.detail.get("asked_again") for f in e.advance(at(1, 22, 5))] == [1]  # still out 4 h on
    outings = e.snapshot(HID)["profile"]["outings"]
    assert outings[:2] == [601, 484]  # away from 10:01 local (the close), 484 min: taught at once


def test_ok_teaches_the_silence_of_that_place_and_hour() -> None:
    e = engine()
    silent_from_ten(e)
    e.advance(at(1, 13))
    answer(e, CheckinAnswer.OK, at(1, 13, 5))
    silence = e.snapshot(HID)["profile"]["silence"]
    cell = 4 * 24 + 10  # living room, 10:00 local, week 0
    assert silence[cell] == 19  # 3 h 05 min in 10 min steps, rounded up


def _unanswered_then_back(e: Engine) -> Finding:
    silent_from_ten(e)
    high = next(f for f in e.advance(at(1, 13, 10)) if f.rule is Rule.INACTIVITY)
    ev(e, "pir-1", EventName.MOTION, at(1, 15))  # someone moves: the resident, or a responder
    return high


def test_the_silence_of_an_unconfirmed_high_is_not_learned_until_an_outcome_says_it_was_ordinary() -> None:
    e = engine()
    high = _unanswered_then_back(e)
    cell = 4 * 24 + 10
    assert e.snapshot(HID)["profile"]["today"][cell] == 0  # held: 5 h silence not learned
    assert e.learn_outcome(HID, "inactivity", high.at, "false_alarm") is True
    assert e.snapshot(HID)["profile"]["silence"][cell] == 19  # up to when the page went out


def test_serious_outcomes_never_loosen_and_unknown_findings_are_refused() -> None:
    e = engine()
    high = _unanswered_then_back(e)
    for outcome in ("taken_to_hospital", "false_alarm"):  # a later ordinary outcome does not undo it
        assert e.learn_outcome(HID, "inactivity", high.at, outcome) is True
    prof = e.snapshot(HID)["profile"]
    assert max(prof["silence"]) == 0 and prof["today"][4 * 24 + 10] == 0
    assert e.learn_outcome(HID, "inactivity", high.at + timedelta(hours=1), "false_alarm") is False
    assert e.learn_outcome("nobody", "inactivity", high.at, "false_alarm") is False


def test_a_restart_in_the_middle_of_a_checkin_raises_the_high_once_at_the_deadline() -> None:
    e = engine()
    silent_from_ten(e)
    e.advance(at(1, 13, 3))
    snap = json.loads(json.dumps(e.snapshot(HID)))
    assert snap["version"] == SNAPSHOT_VERSION == 5 and snap["rules"]["checkin"]["pending"]
    again = engine()
    again.restore(HID, snap)
    assert again.snapshot(HID) == snap
    late = again.advance(at(1, 20))
    assert [(f.rule, f.at) for f in late] == [(Rule.INACTIVITY, at(1, 13, 10))]
    # An ok after the restart closes it instead.
    again = engine()
    again.restore(HID, snap)
    assert answer(again, CheckinAnswer.OK, at(1, 13, 5)) == [] and again.advance(at(1, 17)) == []


def test_a_version_4_snapshot_restores_with_no_checkin_under_way() -> None:
    e = engine()
    silent_from_ten(e)
    snap = json.loads(json.dumps(e.snapshot(HID)))
    snap["version"] = 4
    snap["rules"].pop("checkin", None)
    snap.pop("hold")
    again = engine()
    again.restore(HID, snap)
    assert [f.rule for f in again.advance(at(1, 13))] == [Rule.CHECKIN]


def test_checkins_off_is_the_engine_as_it_was() -> None:
    def lines(e: Engine) -> list[str]:
        out: list[Finding] = []
        for d in range(1, 6):
            out += ev(e, "pir-1", EventName.MOTION, at(d, 7))
            out += ev(e, "door-1", EventName.OPEN, at(d, 9))
            out += ev(e, "door-1", EventName.CLOSE, at(d, 9, 1))
            out += ev(e, "pir-1", EventName.MOTION, at(d, 19) if d % 2 else at(d, 9, 3))
        return [alert_line(f) for f in out + e.advance(at(7, 12))]

    before = lines(engine(pack=load_pack(default_pack_path())))
    assert before and before == lines(engine({"checkin": {"enabled": False}}))
    assert before != lines(engine())


def test_suspicions_older_than_36_hours_are_forgotten() -> None:
    e = engine()
    high = _unanswered_then_back(e)
    assert e.snapshot(HID)["rules"]["checkin"]["recent"]
    for day in (2, 3):  # ordinary days and nights
        for hour in range(7, 22):
            ev(e, "pir-1", EventName.MOTION, at(day, hour))
    ev(e, "pir-1", EventName.MOTION, at(4, 6, 30))
    recent = e.snapshot(HID)["rules"].get("checkin", {}).get("recent", [])
    assert all(r[4] < 0 or r[4] > high.at.timestamp() + 36 * 3600 for r in recent)
    assert e.learn_outcome(HID, "inactivity", high.at, "false_alarm") is False


def test_a_late_ok_after_the_page_teaches_the_silence_as_ordinary() -> None:
    e = engine()
    high = _unanswered_then_back(e)
    assert answer(e, CheckinAnswer.OK, at(1, 15, 30)) == []  # after the page: nothing to raise
    assert e.snapshot(HID)["profile"]["silence"][4 * 24 + 10] == 19  # taught up to the page
    assert e.learn_outcome(HID, "inactivity", high.at, "taken_to_hospital") is True
