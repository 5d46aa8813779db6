"""A simulated resident answering a check-in call: a persona's answer rate and delay (issue 13).

A well resident answers ``ok`` with the persona's rate (lower when away or at night), after a delay
drawn from ``answer_delay_s``; one who has fallen (an open ``fall`` truth) never answers, or presses
9 (``help``) when the persona says so. What the call reaches is the provider path's business: in
tests the local Twilio-shaped fake hands the call to this model and plays the key it returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from anju.simulator.catalog import Persona
from anju.simulator.household import Truth

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
