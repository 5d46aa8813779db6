"""Room-aware learning: a silence is judged by where the resident was last seen, and the hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind, EventName, Rule
from anju.engine.core import Engine
from anju.engine.learn import BATHROOM, BEDROOM, ENTRANCE, KITCHEN, LIVING, OTHER, location_class
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack

SH = ZoneInfo("Asia/Shanghai")
HID = "h-places"
ROOMS = {"pir-bed": "bedroom", "pir-bath": "bathroom", "pir-living": "living_room"}


def local(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=SH)


def engine(overrides: dict[str, object] | None = None) -> Engine:
    e = Engine(load_pack(default_pack_path()))
    devices = tuple(DeviceSpec(device_id=d, kind=DeviceKind.PIR, location=r) for d, r in ROOMS.items())
    e.configure(
        [
            HouseholdSpec(
                household_id=HID, timezone="Asia/Shanghai", devices=devices, overrides=overrides or {}
            )
        ]
    )
    return e


def ev(e: Engine, device: str, at: datetime) -> list[Finding]:
    out = e.advance(at)
    return out + e.observe(
        Observation(household_id=HID, device_id=device, kind=DeviceKind.PIR, event=EventName.MOTION, at=at)
    )


def ordinary_day(e: Engine, day: int) -> list[Finding]:
    """Up at 07:00; each hour the bathroom at :00 (back in the living room by :08), the living room
    at :08 and :30; on odd days a nap on the sofa from 14:08 to 17:00 (last seen in the living
    room); in bed from 22:00, last movement 22:05, up again at 07:00."""
    found: list[Finding] = []
    nap = day % 2 == 1
    for hour in range(7, 22):
        for device, minute in (("pir-bath", 0), ("pir-living", 8), ("pir-living", 30)):
            if nap and (hour in (15, 16) or (hour == 14 and minute == 30)):
                continue
            found += ev(e, device, local(day, hour, minute))
    found += ev(e, "pir-bed", local(day, 22))
    found += ev(e, "pir-bed", local(day, 22, 5))
    return found


def two_weeks(e: Engine) -> list[Finding]:
    found: list[Finding] = []
    for day in range(1, 15):
        found += ordinary_day(e, day)
    return found


def test_device_locations_map_to_location_classes_in_english_and_chinese() -> None:
    assert location_class("bathroom") == BATHROOM
    assert location_class("卫生间") == BATHROOM
    assert location_class("Bedroom") == BEDROOM
    assert location_class("second_bedroom") == BEDROOM
    assert location_class("kitchen") == KITCHEN
    assert location_class("living_room") == LIVING
    assert location_class("hallway") == ENTRANCE
    assert location_class("") == OTHER
    assert location_class("garage") == OTHER


def test_two_hours_silent_after_bathroom_motion_at_15h_fires_well_before_the_hour_only_threshold() -> None:
    e = engine()
    assert not [f for f in two_weeks(e) if f.rule is Rule.INACTIVITY and f.at >= local(4, 0)]
    # Day 15: normal until 14:00, then the bathroom at 15:00 (no nap today) and nothing more.
    for hour in range(7, 15):
        ev(e, "pir-bath", local(15, hour))
        ev(e, "pir-living", local(15, hour, 8))
    ev(e, "pir-bath", local(15, 15))
    out = [f for f in e.advance(local(15, 22)) if f.rule is Rule.INACTIVITY]
    # Bathroom silences never passed 10 min: 10 min + 1 h margin, raised to the day minimum of 2 h.
    assert [f.at for f in out] == [local(15, 17)]
    assert out[0].detail["last_location"] == "bathroom"
    assert out[0].detail["threshold_by"] == "place and hour"
    assert out[0].detail["threshold_s"] == 2 * 3600
    # The hour alone allows the nap's 2 h 52 min (plus the 1 h margin) to silences from 13:00-16:00.
    hour_only = engine({"learning": {"by_location": False}})
    two_weeks(hour_only)
    for hour in range(7, 15):
        ev(hour_only, "pir-bath", local(15, hour))
        ev(hour_only, "pir-living", local(15, hour, 8))
    ev(hour_only, "pir-bath", local(15, 15))
    late = [f for f in hour_only.advance(local(15, 22)) if f.rule is Rule.INACTIVITY]
    assert [f.at for f in late] == [local(15, 19)]
    assert late[0].detail["threshold_by"] == "hour"


def test_the_usual_nap_after_living_room_motion_is_still_allowed() -> None:
    e = engine()
    two_weeks(e)
    for hour in range(7, 14):
        ev(e, "pir-bath", local(15, hour))
        ev(e, "pir-living", local(15, hour, 8))
    ev(e, "pir-bath", local(15, 14))
    ev(e, "pir-living", local(15, 14, 8))
    # Naps of 2 h 52 min learned (3 h in 10 min steps) + 1 h: a nap of 3 h 50 min is no alarm ...
    assert [f for f in e.advance(local(15, 18)) if f.rule is Rule.INACTIVITY] == []
    # ... but 4 h is the end of it.
    assert [f.at for f in e.advance(local(15, 19)) if f.rule is Rule.INACTIVITY] == [local(15, 18, 8)]


def test_a_long_silence_after_bedroom_motion_at_night_waits_for_the_learned_night_threshold() -> None:
    e = engine({"no_morning_activity": {"enabled": False}})
    two_weeks(e)
    ordinary_day(e, 15)  # in bed from 22:05 on the 15th, then nothing at all
    out = [f for f in e.advance(local(16, 12)) if f.rule is Rule.INACTIVITY]
    # Nights in bed last 8 h 55 min (22:05 -> 07:00): 9 h + 1 h margin = 10 h, within the night's
    # 4-11 h bounds: nothing before 08:05 although the bedroom is quiet from 22:05.
    assert [f.at for f in out] == [local(16, 8, 5)]
    assert out[0].detail["last_location"] == "bedroom"
    assert out[0].detail["day_part"] == "night"


def test_a_place_seen_too_rarely_at_an_hour_falls_back_to_the_hour_threshold() -> None:
    e = engine()
    two_weeks(e)
    for hour in range(7, 15):
        ev(e, "pir-bath", local(15, hour))
        ev(e, "pir-living", local(15, hour, 8))
    ev(e, "pir-bed", local(15, 15))  # never in the bedroom by day before
    out = [f for f in e.advance(local(15, 23)) if f.rule is Rule.INACTIVITY]
    assert [f.at for f in out] == [local(15, 19)]
    assert out[0].detail["threshold_by"].startswith("hour")


def test_the_place_of_the_last_sign_of_life_survives_a_restart() -> None:
    e = engine()
    two_weeks(e)
    for hour in range(7, 15):
        ev(e, "pir-bath", local(15, hour))
        ev(e, "pir-living", local(15, hour, 8))
    ev(e, "pir-bath", local(15, 15))
    snap = e.snapshot(HID)
    restored = engine()
    restored.restore(HID, snap)
    out = [f for f in restored.advance(local(15, 22)) if f.rule is Rule.INACTIVITY]
    assert [f.at for f in out] == [local(15, 17)]
    assert out[0].detail["last_location"] == "bathroom"


def test_before_warm_up_a_silence_from_the_night_is_allowed_the_night_threshold() -> None:
    e = engine()
    ev(e, "pir-bed", local(1, 1, 30))  # asleep since 01:30 on the first night
    # The day part reached at 09:00 allows 3 h, but the silence began in the night: 10 h.
    assert [f for f in e.advance(local(1, 11, 29)) if f.rule is Rule.INACTIVITY] == []
    out = [f for f in e.advance(local(1, 12)) if f.rule is Rule.INACTIVITY]
    assert [f.at for f in out] == [local(1, 11, 30)]
    assert out[0].detail["threshold_s"] == 10 * 3600


def test_a_threshold_depends_on_the_history_before_the_silence_only() -> None:
    """A silence's threshold never depends on what comes after it (the cut of the benchmark)."""
    a, b = engine(), engine()
    two_weeks(a)
    two_weeks(b)
    for e in (a, b):
        for hour in range(7, 15):
            ev(e, "pir-bath", local(15, hour))
            ev(e, "pir-living", local(15, hour, 8))
        ev(e, "pir-bath", local(15, 15))
    ev(b, "pir-living", local(15, 16, 59))  # b: someone moved before the alert
    fired = [f.at for f in a.advance(local(15, 17) + timedelta(seconds=1)) if f.rule is Rule.INACTIVITY]
    assert fired == [local(15, 17)]
    assert [f for f in b.advance(local(15, 17) + timedelta(seconds=1)) if f.rule is Rule.INACTIVITY] == []
