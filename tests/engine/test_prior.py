"""Warm-up from the center's prior, narrowed by the intake answers (issue 13, line 3)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from anju.config import PROJECT_ROOT
from anju.domain import DeviceKind, EventName, Rule
from anju.engine.core import Engine
from anju.engine.learn import LearnedRoutine
from anju.engine.model import DeviceSpec, HouseholdSpec, Intake, Observation
from anju.engine.pack import load_pack
from anju.engine.prior import RoutinePrior

SH = ZoneInfo("Asia/Shanghai")
PACK = load_pack(PROJECT_ROOT / "rules" / "checkin.toml")
LIVING_15 = 4 * 24 + 15


def routine(minutes: int) -> LearnedRoutine:
    r = LearnedRoutine()
    r.days = 20
    r.room_thr[LIVING_15] = minutes
    r.thr[15] = minutes * 60.0
    r.wake_usual = 7 * 60
    return r


def test_the_prior_is_a_high_quantile_of_the_other_homes_and_needs_two_of_them() -> None:
    prior = RoutinePrior.from_routines([routine(m) for m in (100, 200, 300, 400, 500)], quantile=0.75)
    assert prior.room[LIVING_15] == 400 * 60 and prior.hour[15] == 400 * 60 and prior.wake == 420
    assert RoutinePrior.from_routines([routine(100)]).room[LIVING_15] == 0  # one home is not a center
    young = routine(100)
    young.days = 1
    assert RoutinePrior.from_routines([young, young]).room[LIVING_15] == 0  # in warm-up themselves


def test_intake_wake_bed_and_outings_narrow_the_prior() -> None:
    prior = RoutinePrior.from_routines([routine(60), routine(60)])
    params = Engine(PACK)._base.params
    mine = prior.narrow(Intake(wake=6 * 60, bed=22 * 60, outings=((9 * 60, 300),)), params)
    assert mine.wake == 360
    assert mine.room[1 * 24 + 22] == 8 * 3600 + 3600  # bedroom at 22:00: 8 h asleep plus the margin
    assert mine.room[1 * 24 + 5] == 3600 + 3600 and mine.room[1 * 24 + 6] == 0
    assert mine.away[2] == 300 * 60 * 1.2 + 3600  # a 5 h outing from 09:00 (day part)
    assert prior.narrow(None, params) is prior


def _home(e: Engine, intake: Intake | None = None) -> None:
    devices = (DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, location="living room"),)
    e.configure(
        [HouseholdSpec(household_id="h-new", timezone="Asia/Shanghai", devices=devices, intake=intake)]
    )


def test_a_new_home_starts_from_the_prior_on_day_one_and_keeps_it_in_its_snapshot() -> None:
    prior = RoutinePrior.from_routines([routine(300), routine(300)])
    e = Engine(PACK, prior=prior)
    _home(e)
    t = datetime(2026, 3, 1, 15, 0, tzinfo=SH)
    e.advance(t)
    e.observe(
        Observation(
            household_id="h-new", device_id="pir-1", kind=DeviceKind.PIR, event=EventName.MOTION, at=t
        )
    )
    found = e.advance(datetime(2026, 3, 1, 21, 0, tzinfo=SH))
    asked = [f for f in found if f.rule is Rule.CHECKIN]
    assert asked and asked[0].detail["evidence"]["threshold_s"] == 300 * 60 + 0  # the center's 5 h
    assert asked[0].detail["evidence"]["threshold_by"] == "place and hour"
    snap = json.loads(json.dumps(e.snapshot("h-new")))
    assert snap["profile"]["prior"]["room"][LIVING_15] == 300 * 60
    again = Engine(PACK)
    _home(again)
    again.restore("h-new", snap)
    assert again.snapshot("h-new") == snap


def test_without_a_prior_a_new_home_waits_for_warm_up_as_before() -> None:
    e = Engine(PACK)
    _home(e)
    t = datetime(2026, 3, 1, 15, 0, tzinfo=SH)
    e.observe(
        Observation(
            household_id="h-new", device_id="pir-1", kind=DeviceKind.PIR, event=EventName.MOTION, at=t
        )
    )
    asked = [f for f in e.advance(datetime(2026, 3, 1, 21, 0, tzinfo=SH)) if f.rule is Rule.CHECKIN]
    assert asked[0].detail["evidence"]["threshold_source"] == "default"


def test_the_home_outgrows_the_prior_after_prior_days() -> None:
    r = LearnedRoutine()
    params = Engine(PACK)._base.params
    r.seed(RoutinePrior.from_routines([routine(300), routine(300)]), params)
    assert r.ready(3) and r.room_threshold(4, 15) == 300 * 60
    for _ in range(params.prior_days):
        r.end_day(params, wake=-1, bed=-1, day_count=10, night_count=1)
    assert r.prior is None and not r.ready(99) and r.room_threshold(4, 15) == 0
