"""CASAS Aruba (112 days, one woman living alone) from its derived per-minute timeline, as kit events.

The data (../shared/datasets/casas_aruba_fremen_per_minute_DERIVED, read its SOURCE.md) is not a
sensor stream: one location id and one activity id per minute, for 16 weeks with no dates. The rule
that turns it into what an Anju kit would report (documented in docs/detection.md):

- location 9 is outside (22,496 of its 22,648 minutes are activity "None"; Leave_Home and
  Enter_Home fall there); 1-8 are rooms: 1 bedroom, 2 bathroom, 3 living room, 4 kitchen, 5 and
  6 hallway (Junction, Corridor), 7 office, 8 second bathroom (the mapping is SOURCE.md's cross-tab,
  not stated by the data: the rooms matter only as location classes here);
- leaving (a room, then 9): the front door opens at that minute and closes 30 s later; coming
  home (9, then a room): the door opens and closes, and the room's motion sensor fires 30 s later;
- at home, the room's motion sensor fires when the resident enters a room, and every 10 minutes
  while she stays in it awake (a PIR sees someone who moves a little at least that often); while
  her activity is Sleeping it fires only when she changes room (a toilet trip at night);
- day 1 is taken as Monday 2010-11-08 in America/Los_Angeles (Pullman, WA; the real window lies
  between 2010-11-04 and 2011-06-11 and is not stated).

No heartbeats, no button: no device is ever offline. Ground truth of absences comes with it
(``ArubaHome.outside``): the benchmark's answer model uses it (a resident who is out answers less
often); the detector never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind, EventName
from anju.engine.model import Observation

from . import DATASETS, RealHome

HID = "casas-aruba"
TZ = ZoneInfo("America/Los_Angeles")
START = datetime(2010, 11, 8, tzinfo=TZ)
OUTSIDE, SLEEPING = 9, 9
ROOMS = {
    1: "bedroom",
    2: "bathroom",
    3: "living_room",
    4: "kitchen",
    5: "hallway",
    6: "hallway",
    7: "office",
    8: "bathroom",
}
AWAKE_EVERY = 10  # minutes between motion events while awake in one room


@dataclass(frozen=True)
class ArubaHome:
    home: RealHome
    #: Minutes since START (local) at which the resident was outside.
    outside: frozenset[int]

    def out_at(self, at: datetime) -> bool:
        minute = int((at - START).total_seconds() // 60)
        return minute in self.outside


def _at(minute: int, seconds: int = 0) -> datetime:
    # Wall-clock minutes: DST changes shift the UTC instant, as the recording's own clock did.
    day, rest = divmod(minute, 1440)
    local = datetime.combine(START.date() + timedelta(days=day), datetime.min.time(), tzinfo=TZ)
    return local + timedelta(minutes=rest, seconds=seconds)


def load_aruba() -> ArubaHome:
    base = DATASETS / "casas_aruba_fremen_per_minute_DERIVED"
    locations = [int(x) for x in (base / "location.min").read_text().split()]
    activities = [int(x) for x in (base / "activity.min").read_text().split()]
    out: list[Observation] = []
    where: dict[str, str] = {"door-front": "entrance"}

    def emit(dev: str, kind: DeviceKind, event: EventName, minute: int, seconds: int = 0) -> None:
        at = _at(minute, seconds)
        out.append(Observation(household_id=HID, device_id=dev, kind=kind, event=event, at=at))

    prev, stay = OUTSIDE, 0
    outside: set[int] = set()
    for minute, (loc, act) in enumerate(zip(locations, activities, strict=False)):
        if loc == OUTSIDE:
            outside.add(minute)
            if prev != OUTSIDE and minute > 0:
                emit("door-front", DeviceKind.DOOR, EventName.OPEN, minute)
                emit("door-front", DeviceKind.DOOR, EventName.CLOSE, minute, 30)
            prev = loc
            continue
        room = ROOMS.get(loc, "")
        dev = f"pir-{loc}"
        where[dev] = room
        if prev == OUTSIDE and minute > 0:
            emit("door-front", DeviceKind.DOOR, EventName.OPEN, minute)
            emit("door-front", DeviceKind.DOOR, EventName.CLOSE, minute, 20)
            emit(dev, DeviceKind.PIR, EventName.MOTION, minute, 30)
            stay = 0
        elif loc != prev:
            emit(dev, DeviceKind.PIR, EventName.MOTION, minute)
            stay = 0
        else:
            stay += 1
            if act != SLEEPING and stay % AWAKE_EVERY == 0:
                emit(dev, DeviceKind.PIR, EventName.MOTION, minute, 5)
        prev = loc
    out.sort(key=lambda o: o.at)
    return ArubaHome(RealHome("CASAS Aruba", TZ.key, out, where), frozenset(outside))
