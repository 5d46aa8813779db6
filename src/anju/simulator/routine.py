"""A resident's day: a plan of stays in rooms and trips through the front door, and the PIR and
door events that plan causes (PIR blind time, misses, passing through the hallway)."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from anju.simulator.catalog import Persona
from anju.simulator.fleet import SimHousehold

MOTION = "motion"
OPEN = "open"
CLOSE = "close"
PRESS = "press"
TAMPER = "tamper"
#: Not a message: the device stops for good from here on.
DEAD = "_dead"

#: One physical event: (true time, epoch seconds; index of the device in the household; event).
Event = tuple[float, int, str]
#: How far before its stay's start a stay's first event may lie (the hallway glimpse).
LEAD_S = 10.0

#: A kit or Aqara PIR ignores motion this long after it reported some.
PIR_BLIND_S = 60.0
#: Share of real motion a PIR does not report (angle, distance, slow movement).
PIR_MISS = 0.04
#: Detection attempts per minute while someone is in the room doing this (before the persona's
#: ``activity``); the blind time thins them to at most one a minute.
RATE = {
    "cook": 1.3,
    "bathroom": 1.2,
    "eat": 0.45,
    "sit": 0.18,
    "busy": 0.55,
    "bedroom": 0.35,
    "entry": 1.5,
    "visit": 0.8,
    "nap": 0.05,
    "sleep": 0.025,
    "bedtime": 0.5,
}
#: Where the resident spends time between the fixed parts of the day, with what activity.
FILLER = (
    ("living_room", "sit", 0.5),
    ("living_room", "busy", 0.08),
    ("kitchen", "busy", 0.14),
    ("bedroom", "bedroom", 0.14),
    ("second_bedroom", "busy", 0.05),
    ("hallway", "busy", 0.02),
)


@dataclass(slots=True)
class Stay:
    """The resident is in ``room`` (None: away from home) from ``start`` to ``end``."""

    start: float
    end: float
    room: str | None
    rate: float


@dataclass(slots=True)
class DayPlan:
    """From this day's wake-up to the next: stays, door events and the anchors emergencies use."""

    day: int  # date ordinal
    wake: float
    bedtime: float
    next_wake: float
    stays: list[Stay] = field(default_factory=list)
    doors: list[tuple[float, str]] = field(default_factory=list)
    #: (leave, return) of each outing, for not_returned.
    outings: list[tuple[float, float]] = field(default_factory=list)


def local_midnight(day: int, tz: ZoneInfo) -> float:
    return datetime.combine(date.fromordinal(day), time(0), tzinfo=tz).timestamp()


def local_day(t: float, tz: ZoneInfo) -> int:
    return datetime.fromtimestamp(t, tz).date().toordinal()


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; the means here are small)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _uniform_min(rng: random.Random, bounds: tuple[float, float]) -> float:
    return rng.uniform(bounds[0], bounds[1]) * 60.0


class Planner:
    """Plans one household's days; the same seed, household and day give the same plan."""

    def __init__(self, household: SimHousehold, seed: int) -> None:
        self.household = household
        self.persona: Persona = household.persona
        self.tz = ZoneInfo(household.timezone)
        self.seed = seed
        rooms = household.layout.rooms
        self._filler = [(r, RATE[a]) for r, a, w in FILLER if r in rooms]
        self._filler_cum = list(itertools.accumulate(w for r, _a, w in FILLER if r in rooms))
        self._midnights: dict[int, float] = {}

    def midnight(self, day: int) -> float:
        m = self._midnights.get(day)
        if m is None:
            m = self._midnights[day] = local_midnight(day, self.tz)
            if len(self._midnights) > 8:
                self._midnights.pop(next(iter(self._midnights)))
        return m

    def rng(self, day: int, what: str = "") -> random.Random:
        return random.Random(f"{self.seed}:{self.household.id}:{day}:{what}")

    def _weekend(self, day: int) -> bool:
        return date.fromordinal(day).weekday() >= 5

    def wake(self, day: int) -> float:
        p = self.persona
        rng = self.rng(day, "wake")
        shift = p.weekend_shift_min if self._weekend(day) else 0.0
        spread = max(-3.0, min(3.0, rng.gauss(0.0, 1.0))) * p.wake_sd_min
        return self.midnight(day) + p.wake * 3600.0 + (shift + spread) * 60.0

    def plan(self, day: int) -> DayPlan:
        p = self.persona
        rng = self.rng(day)
        weekend = self._weekend(day)
        mid = self.midnight(day)
        wake = self.wake(day)
        next_wake = self.wake(day + 1)
        shift = p.weekend_shift_min if weekend else 0.0
        spread = max(-3.0, min(3.0, rng.gauss(0.0, 1.0))) * p.bedtime_sd_min
        bedtime = mid + p.bedtime * 3600.0 + (shift + spread) * 60.0
        bedtime = max(wake + 10 * 3600.0, min(bedtime, next_wake - 5 * 3600.0))
        plan = DayPlan(day=day, wake=wake, bedtime=bedtime, next_wake=next_wake)

        layout = self.household.layout
        # Candidate blocks: (priority, start, end, kind); lower priority numbers win overlaps.
        cands: list[tuple[int, float, float, str]] = []
        for _ in range(poisson(rng, p.outings_weekend if weekend else p.outings)):
            s = rng.uniform(wake + 1.5 * 3600, bedtime - 1.5 * 3600)
            cands.append((0, s, s + _uniform_min(rng, p.outing_min), "outing"))
        for _ in range(poisson(rng, p.step_outs)):
            s = rng.uniform(wake + 1800, bedtime - 1800)
            cands.append((1, s, s + rng.uniform(40, 360), "step_out"))
        b0 = wake + rng.uniform(60, 300)
        b1 = b0 + rng.uniform(360, 900)
        cands.append((2, b0, b1, "morning_bathroom"))
        k0 = b1 + rng.uniform(180, 900)
        cands.append((2, k0, k0 + rng.uniform(1200, 2100), "breakfast"))
        if rng.random() < p.nap_prob:
            s = mid + 13.25 * 3600 + rng.gauss(0, 1800)
            cands.append((3, s, s + _uniform_min(rng, p.nap_min), "nap"))
        lunch = mid + 11.75 * 3600 + rng.gauss(0, 1500)
        cands.append((4, lunch, lunch + rng.uniform(1800, 3000), "meal"))
        dinner = min(mid + 17.5 * 3600 + rng.gauss(0, 1800), bedtime - 2.5 * 3600)
        cands.append((4, dinner, dinner + rng.uniform(2100, 3600), "meal"))
        if rng.random() < (p.visitors_weekend if weekend else p.visitors):
            s = rng.uniform(max(wake + 2 * 3600, mid + 9.5 * 3600), mid + 19 * 3600)
            cands.append((5, s, s + _uniform_min(rng, p.visit_min), "visit"))

        accepted: list[tuple[float, float, str]] = []
        for _prio, s, e, kind in sorted(cands):
            if s < wake + 60 or e > bedtime - 1200:
                continue
            if all(e + 120 <= a or s >= b + 120 for a, b, _k in accepted):
                accepted.append((s, e, kind))
        accepted.sort()

        stays = plan.stays
        cursor = wake
        stays.append(Stay(wake, wake + rng.uniform(60, 240), layout.bed, RATE["bedtime"]))
        cursor = stays[-1].end
        bathroom_due = cursor + rng.expovariate(1.0 / (p.day_bathroom_every_h * 3600))
        for s, e, kind in accepted:
            if kind in ("outing", "step_out", "visit"):
                pre = rng.uniform(40, 120)
                bathroom_due = self._fill(rng, stays, cursor, s - pre, bathroom_due)
                stays.append(Stay(s - pre, s, layout.entry, RATE["entry"]))
                plan.doors.append((s, OPEN))
                plan.doors.append((s + rng.uniform(3, 10), CLOSE))
                if kind == "visit":
                    mid_visit = s + (e - s) * rng.uniform(0.3, 0.7)
                    stays.append(Stay(s + 15, mid_visit, "living_room", RATE["visit"]))
                    tea = min(e - 60, mid_visit + rng.uniform(300, 900))
                    stays.append(Stay(mid_visit, tea, "kitchen", RATE["cook"]))
                    stays.append(Stay(tea, e - 30, "living_room", RATE["visit"]))
                    stays.append(Stay(e - 30, e + 30, layout.entry, RATE["entry"]))
                    plan.doors.append((e, OPEN))
                    plan.doors.append((e + rng.uniform(3, 10), CLOSE))
                    cursor = e + 30
                else:
                    stays.append(Stay(s, e, None, 0.0))
                    if kind == "outing":
                        plan.outings.append((s, e))
                    plan.doors.append((e, OPEN))
                    plan.doors.append((e + rng.uniform(3, 10), CLOSE))
                    cursor = e + rng.uniform(30, 90)
                    stays.append(Stay(e, cursor, layout.entry, RATE["entry"]))
                continue
            bathroom_due = self._fill(rng, stays, cursor, s, bathroom_due)
            if kind == "morning_bathroom":
                stays.append(Stay(s, e, "bathroom", RATE["bathroom"]))
            elif kind == "nap":
                stays.append(Stay(s, e, layout.bed, RATE["nap"]))
            else:  # a meal: cooking, then eating at the table or in front of the TV
                cook_end = s + (e - s) * rng.uniform(0.4, 0.7)
                stays.append(Stay(s, cook_end, "kitchen", RATE["cook"]))
                table = (
                    "kitchen" if rng.random() < 0.5 or "living_room" not in layout.rooms else "living_room"
                )
                stays.append(Stay(cook_end, e, table, RATE["eat"]))
            cursor = e
        evening = bedtime - rng.uniform(600, 1500)
        self._fill(rng, stays, cursor, evening, bathroom_due)
        washed = evening + rng.uniform(300, 600)
        stays.append(Stay(evening, washed, "bathroom", RATE["bathroom"]))
        stays.append(Stay(washed, bedtime, layout.bed, RATE["bedtime"]))

        trips = sorted(
            rng.uniform(bedtime + 1800, next_wake - 1200) for _ in range(poisson(rng, p.night_bathroom))
        )
        cursor = bedtime
        for t in trips:
            if t < cursor + 600:
                continue
            stays.append(Stay(cursor, t, layout.bed, RATE["sleep"]))
            back = t + rng.uniform(180, 480)
            stays.append(Stay(t, back, "bathroom", RATE["bathroom"]))
            cursor = back
        stays.append(Stay(cursor, next_wake, layout.bed, RATE["sleep"]))
        plan.doors.sort()
        return plan

    def _fill(
        self, rng: random.Random, stays: list[Stay], start: float, end: float, bathroom_due: float
    ) -> float:
        """Ordinary time at home between fixed parts of the day; returns when the next toilet is due."""
        every = self.persona.day_bathroom_every_h * 3600.0
        t = start
        cum = self._filler_cum
        total = cum[-1]
        while t < end - 30:
            if bathroom_due <= t:
                dur = rng.uniform(180, 480)
                stays.append(Stay(t, min(end, t + dur), "bathroom", RATE["bathroom"]))
                t += dur
                bathroom_due = t + rng.expovariate(1.0 / every)
                continue
            room, rate = self._filler[bisect.bisect(cum, rng.random() * total)]
            dur = min(max(180.0, rng.expovariate(1.0 / 1500.0)), 5400.0)
            stop = min(end, t + dur, max(bathroom_due, t + 180))
            stays.append(Stay(t, stop, room, rate))
            t = stop
        return bathroom_due


class MotionSensors:
    """The PIRs of one home: turns stays into motion events as real sensors report them."""

    def __init__(self, household: SimHousehold, activity: float) -> None:
        self.household = household
        self.activity = activity
        self.hallway = household.slots.get(("pir", "hallway"))
        self._last: dict[int, float] = {}
        self._prev: str | None = None

    def fire(self, rng: random.Random, out: list[Event], t: float, dev: int) -> None:
        last = self._last.get(dev)
        if last is not None and t - last < PIR_BLIND_S:
            return
        if rng.random() < PIR_MISS:
            return
        self._last[dev] = t
        out.append((t, dev, MOTION))

    def new_day(self) -> None:
        """The resident wakes in bed: the first stay of a day is not an entry into a room."""
        self._prev = None

    def expand(self, rng: random.Random, stay: Stay, out: list[Event]) -> None:
        """Motion events for ``stay`` (stays come in order) appended to ``out``, unsorted; none
        is earlier than 10 s before the stay starts."""
        hh = self.household
        room = stay.room
        prev = self._prev
        self._prev = room
        if room is None:
            return
        dev = hh.slots[("pir", room)]
        if room != prev:
            if (
                prev is not None
                and self.hallway is not None
                and room != "hallway"
                and prev != "hallway"
                and rng.random() < 0.85
            ):
                self.fire(rng, out, stay.start - rng.uniform(2, 6), self.hallway)
            if rng.random() < 0.92:
                self.fire(rng, out, stay.start + rng.uniform(1, 6), dev)
        rate = stay.rate * self.activity / 60.0
        if rate <= 0:
            return
        t = stay.start + rng.expovariate(rate)
        while t < stay.end:
            self.fire(rng, out, t, dev)
            t += rng.expovariate(rate)
