"""A simulated resident answering a check-in call: a persona's answer rate and delay (issue 13).

A well resident answers ``ok`` with the persona's rate (lower when away or at night), after a delay
drawn from ``answer_delay_s``; one who has fallen (an open ``fall`` truth) never answers, or presses
9 (``help``) when the persona says so. What the call reaches is the provider path's business: in
tests the local Twilio-shaped fake hands the call to this model and plays the key it returns; in
``anju demo`` the simulated phone hands it to :class:`ResidentPhones`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from anju.simulator.catalog import Persona
from anju.simulator.fleet import Fleet, SimHousehold
from anju.simulator.household import Truth
from anju.simulator.people import people_for
from anju.simulator.routine import Planner, local_day

#: Local hours the night rate applies to (quiet hours of the check-in rule).
NIGHT = (23, 6)
OK_KEY, HELP_KEY = "1", "9"


@dataclass(frozen=True, slots=True)
class Reply:
    """The key the resident presses (None: the phone rings out) and after how many seconds."""

    key: str | None
    delay_s: float


def incapacitated(truth: list[Truth], t: float) -> bool:
    """Whether a fall (or a button emergency) is under way at ``t``: nobody picks up then."""
    return any(tr.kind == "fall" and tr.start <= t and (tr.end is None or t < tr.end) for tr in truth)


def answer_call(
    persona: Persona, rng: random.Random, *, fallen: bool, away: bool = False, local_hour: int = 12
) -> Reply:
    """How this resident answers one check-in call."""
    delay = rng.uniform(*persona.answer_delay_s)
    if fallen:
        return Reply(HELP_KEY if persona.fallen_answers_help else None, delay)
    night = local_hour >= NIGHT[0] or local_hour < NIGHT[1]
    rate = persona.answer_rate_away if away else persona.answer_rate_night if night else persona.answer_rate
    return Reply(OK_KEY if rng.random() < rate else None, delay)


class ResidentPhones:
    """The fleet's residents by their phone number, answering check-ins as their persona does.

    A household's resident answers one check-in once (a call or its SMS, whichever they take);
    one who has fallen (the emergencies reported to :meth:`note_truth`) never answers, or presses 9.
    Whether they are out comes from their day plan, the same one the live simulation follows.
    """

    def __init__(self, fleet: Fleet, *, seed: int | None = None) -> None:
        self.seed = fleet.seed
        self._homes = {people_for(h.index, fleet.seed).resident["phone"]: h for h in fleet.households}
        self._planners: dict[str, Planner] = {}
        self._truth: dict[str, list[Truth]] = {}
        self._answered: set[int] = set()
        self._rng = random.Random(f"answers:{fleet.seed if seed is None else seed}")

    def household_of(self, phone: str) -> SimHousehold | None:
        return self._homes.get(phone)

    def note_truth(self, truth: Truth) -> None:
        """An emergency the live simulation planned (a fall leaves the resident unable to answer)."""
        self._truth.setdefault(truth.household_id, []).append(truth)

    def away(self, home: SimHousehold, t: float) -> bool:
        planner = self._planners.get(home.id)
        if planner is None:
            planner = self._planners[home.id] = Planner(home, self.seed)
        today = local_day(t, planner.tz)
        for day in (today - 1, today):
            plan = planner.plan(day)
            if plan.wake <= t < plan.next_wake:
                return any(s.room is None and s.start <= t < s.end for s in plan.stays)
        return False

    def pick_up(self, phone: str, *, at: datetime, checkin_id: int) -> Reply | None:
        """How the resident of ``phone`` answers check-in ``checkin_id``; None for a stranger's number."""
        home = self._homes.get(phone)
        if home is None:
            return None
        if checkin_id in self._answered:
            return Reply(None, 0.0)  # already answered this check-in another way
        t = at.timestamp()
        fallen = incapacitated(self._truth.get(home.id, []), t)
        hour = at.astimezone(ZoneInfo(home.timezone)).hour
        away = not fallen and self.away(home, t)
        reply = answer_call(home.persona, self._rng, fallen=fallen, away=away, local_hour=hour)
        if reply.key is not None:
            self._answered.add(checkin_id)
        return reply
