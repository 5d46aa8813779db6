"""One simulated home over time: the resident's days, emergencies injected into them, and the
ground truth of each emergency. Yields physical events in time order."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from anju.simulator.catalog import EMERGENCY_KINDS, Scenario
from anju.simulator.fleet import KIT, SimHousehold
from anju.simulator.routine import (
    CLOSE,
    DEAD,
    LEAD_S,
    MOTION,
    OPEN,
    PRESS,
    TAMPER,
    DayPlan,
    Event,
    MotionSensors,
    Planner,
    Stay,
    local_day,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Truth:
    """One emergency as it really happened (the contract's ground-truth line)."""

    household_id: str
    kind: str
    start: float
    end: float | None
    device_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _home_window(rng: random.Random, plan: DayPlan, *, asleep_too: bool = False) -> tuple[float, str] | None:
    """A random moment while the resident is at home (awake, or at any hour), and the room they are in."""
    awake = [
        s
        for s in plan.stays
        if s.room is not None and (asleep_too or (s.start >= plan.wake and s.end <= plan.bedtime))
    ]
    total = sum(s.end - s.start for s in awake)
    if total <= 0:
        return None
    x = rng.uniform(0, total)
    for s in awake:
        if x <= s.end - s.start:
            return s.start + x, s.room or ""
        x -= s.end - s.start
    return None


class HouseholdSim:
    """Generates one household's physical events from ``start`` on (until ``end``, if given)."""

    def __init__(
        self,
        household: SimHousehold,
        *,
        seed: int,
        scenario: Scenario,
        start: float,
        end: float | None = None,
    ) -> None:
        self.household = household
        self.scenario = scenario
        self.start = start
        self.end = end
        self.planner = Planner(household, seed)
        self.sensors = MotionSensors(household, household.persona.activity)
        self.truth: list[Truth] = []
        #: Events that must happen whatever the plan says (responders, returns), by time.
        self._pending: list[Event] = []
        #: Intervals in which the plan's events do not happen (the resident is down, or gone).
        self._quiet: list[tuple[float, float]] = []
        self._dead: set[int] = set()

    def events(self) -> Iterator[Event]:
        """Physical events in time order; ``self.truth`` grows as emergencies are planned.

        Lazy: a day is planned when it is reached and its stays are turned into sensor events
        one at a time, so a live fleet of 100k homes holds little more than each home's plan."""
        day = local_day(self.start, self.planner.tz)
        if self.start < self.planner.wake(day):
            day -= 1
        start, end = self.start, self.end
        while end is None or self.planner.wake(day) < end:
            for ev in self._day(day):
                if ev[0] < start:
                    continue
                if end is not None and ev[0] >= end:
                    return
                yield ev
            day += 1

    def _day(self, day: int) -> Iterator[Event]:
        plan = self.planner.plan(day)
        rng = self.planner.rng(day, "sensors")
        door = self.household.door
        doors: list[Event] = [(t, door, e) for t, e in plan.doors]
        self._emergencies(day, plan, doors)
        planned = doors  # a heap of the plan's events not yet yielded
        heapq.heapify(planned)
        pending = self._pending
        stays = plan.stays
        stays.reverse()
        # Joining in the middle of a day (live mode): what happened before the start is not made.
        while stays and stays[-1].end < self.start:
            stays.pop()
        self.sensors.new_day()
        fresh: list[Event] = []
        while True:
            horizon = stays[-1].start - LEAD_S if stays else plan.next_wake
            while True:
                p = planned[0][0] if planned else horizon
                q = pending[0][0] if pending else horizon
                if p >= horizon and q >= horizon:
                    break
                if q < p:
                    yield heapq.heappop(pending)
                    continue
                ev = heapq.heappop(planned)
                if not self._silenced(ev[0]):
                    yield ev
            if not stays:
                break
            fresh.clear()
            self.sensors.expand(rng, stays.pop(), fresh)
            for ev in fresh:
                heapq.heappush(planned, ev)
        self._quiet = [q for q in self._quiet if q[1] > plan.next_wake]

    def _silenced(self, t: float) -> bool:
        return any(a < t < b for a, b in self._quiet)

    def _inject(self, *events: Event) -> None:
        for ev in events:
            heapq.heappush(self._pending, ev)

    def _emergencies(self, day: int, plan: DayPlan, events: list[Event]) -> None:
        rates = self.scenario.emergencies
        rng = self.planner.rng(day, "emergencies")
        chosen = [k for k in EMERGENCY_KINDS if rng.random() < 1.0 - math.exp(-rates.get(k, 0.0))]
        planned: list[tuple[float, str, Any]] = []
        for kind in chosen:
            if kind == "wander":
                t = rng.uniform(plan.bedtime + 3600, plan.next_wake - 2.5 * 3600)
                planned.append((t, kind, None))
            elif kind == "not_returned":
                if plan.outings:
                    leave, back = plan.outings[rng.randrange(len(plan.outings))]
                    planned.append((leave, kind, back))
            elif kind == "device_dead":
                t = rng.uniform(plan.wake, plan.next_wake)
                planned.append((t, kind, rng.randrange(len(self.household.devices))))
            elif kind == "tamper":
                # Aqara door and motion sensors have no tamper switch; the kit's devices do.
                if self.household.protocol == KIT:
                    t = rng.uniform(plan.wake, plan.next_wake)
                    planned.append((t, kind, rng.randrange(len(self.household.devices))))
            else:
                # The alarm button hangs by the bed: calls for help come at night as well as by day.
                spot = _home_window(rng, plan, asleep_too=kind == "button")
                if spot is not None:
                    planned.append((spot[0], kind, spot[1]))
        for t, kind, arg in sorted(planned, key=lambda x: x[0]):
            if t < self.start or self._silenced(t):
                continue
            getattr(self, f"_{kind}")(rng, plan, t, arg, events)

    def _record(self, kind: str, start: float, end: float | None, **extra: Any) -> None:
        device_id = extra.pop("device_id", None)
        self.truth.append(
            Truth(
                household_id=self.household.id,
                kind=kind,
                start=start,
                end=end,
                device_id=device_id,
                detail=extra,
            )
        )

    def _entry_dev(self) -> int:
        return self.household.pir(self.household.layout.entry)

    def _fall(self, rng: random.Random, plan: DayPlan, t0: float, room: str, events: list[Event]) -> None:
        found_h = self.scenario.found
        found = t0 + rng.uniform(*found_h.fall_found_h) * 3600.0
        gone = found + rng.uniform(1200, 2400)
        days = max(1, round(rng.uniform(*found_h.hospital_days)))
        back = self.planner.wake(plan.day + days) + rng.uniform(2, 4) * 3600.0
        self._quiet.append((t0, back))
        door, entry, where = self.household.door, self._entry_dev(), self.household.pir(room)
        self._inject(
            (found, door, OPEN),
            (found + 6, door, CLOSE),
            (found + 12, entry, MOTION),
            (found + 40, where, MOTION),
            (found + 300, where, MOTION),
            (gone - 30, entry, MOTION),
            (gone, door, OPEN),
            (gone + 20, door, CLOSE),
            (back, door, OPEN),
            (back + 8, door, CLOSE),
            (back + 15, entry, MOTION),
        )
        self._record("fall", t0, found, room=room)

    def _button(self, rng: random.Random, plan: DayPlan, t: float, room: str, events: list[Event]) -> None:
        hh = self.household
        self._inject((t - 8, hh.pir(hh.layout.button), MOTION), (t, hh.button, PRESS))
        self._record("button", t, t, device_id=hh.devices[hh.button].id)

    def _door_left_open(
        self, rng: random.Random, plan: DayPlan, t: float, room: str, events: list[Event]
    ) -> None:
        door = self.household.door
        closed = t + rng.uniform(*self.scenario.found.door_open_min) * 60.0
        if any(ev[1] == door and t - 60 <= ev[0] <= closed + 60 for ev in events):
            return  # the resident goes out through that door in the meantime: not this day
        self._inject((t - 20, self._entry_dev(), MOTION), (t, door, OPEN), (closed, door, CLOSE))
        self._record("door_left_open", t, closed)

    def _wander(self, rng: random.Random, plan: DayPlan, t: float, _arg: None, events: list[Event]) -> None:
        hh = self.household
        back = min(t + rng.uniform(*self.scenario.found.wander_found_h) * 3600.0, plan.next_wake - 600)
        self._quiet.append((t - 90, back + 60))
        bed, entry, door = hh.pir(hh.layout.bed), self._entry_dev(), hh.door
        self._inject(
            (t - 80, bed, MOTION),
            (t - 20, entry, MOTION),
            (t, door, OPEN),
            (t + rng.uniform(5, 20), door, CLOSE),
            (back, door, OPEN),
            (back + 10, door, CLOSE),
            (back + 20, entry, MOTION),
            (back + 90, bed, MOTION),
        )
        self._record("wander", t, back)

    def _not_returned(
        self, rng: random.Random, plan: DayPlan, leave: float, expected: float, events: list[Event]
    ) -> None:
        door, entry = self.household.door, self._entry_dev()
        back = min(leave + rng.uniform(*self.scenario.found.not_returned_h) * 3600.0, plan.next_wake - 1800)
        if back <= expected + 3600:
            return
        self._quiet.append((leave + 60, back))
        self._inject((back, door, OPEN), (back + 8, door, CLOSE), (back + 20, entry, MOTION))
        self._record("not_returned", leave, back, expected_return=expected)

    def _device_dead(
        self, rng: random.Random, plan: DayPlan, t: float, dev: int, events: list[Event]
    ) -> None:
        if dev in self._dead:
            return
        self._dead.add(dev)
        self._inject((t, dev, DEAD))
        self._record("device_dead", t, None, device_id=self.household.devices[dev].id)

    def _tamper(self, rng: random.Random, plan: DayPlan, t: float, dev: int, events: list[Event]) -> None:
        if dev in self._dead:
            return
        self._inject((t, dev, TAMPER))
        self._record("tamper", t, t, device_id=self.household.devices[dev].id)


__all__ = ["HouseholdSim", "Stay", "Truth"]
