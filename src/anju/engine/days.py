"""The home's activity days: when one begins and ends, and what the routine learns from it.

An activity day ends at the start of the morning part (the night is judged as a whole). Its end is
a timer like a rule's (``DayEnd``, in the rules' firing order): the rules that judge days judge it,
then the learned routine folds it in, then the rules hear that a new day began.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from anju.engine.localtime import INF, UNSET, local, next_local
from anju.engine.rules.base import Out, Rule
from anju.engine.state import MOSTLY_HOME_S

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Home


def start_days(home: Home, t: float) -> None:
    """Monitoring of the home begins at ``t``: its first activity day."""
    if t <= 0:
        return
    p, tz = home.params, home.tz
    home.rollover_at = next_local(tz, t, p.rollover_min)
    home.activity_day_start = home.rollover_at - 86400
    home.night_from = next_local(tz, home.activity_day_start, p.night_part_start)
    home.wake_from = next_local(tz, t, p.wake_earliest)
    for started in home.cfg.day_starters:
        started(home, t, first=True)


def end_day(home: Home, due: float, out: Out) -> None:
    """End of an activity day: judge the day against the routine, then learn from it."""
    p, prof = home.params, home.profile
    if home.away > 0:
        home.away_secs += due - max(home.away, home.activity_day_start)
    for judge in home.cfg.day_judges:
        judge(home, due, out)
    if prof is not None:
        mostly_home = home.away_secs < MOSTLY_HOME_S
        bed = -1
        if home.bed_start > 0:
            b = local(home.tz, home.bed_start)
            bed = b.hour * 60 + b.minute
        prof.end_day(
            p,
            wake=home.wake_today,
            bed=bed,
            day_count=home.day_count if mostly_home else -1,
            night_count=home.night_count if mostly_home else -1,
        )
    home.day_count = home.night_count = 0
    home.away_secs = 0.0
    home.wake_today, home.wake_gap = -1, 0.0
    home.bed_gap, home.bed_start = 0.0, UNSET
    home.rollover_at = next_local(home.tz, due, p.rollover_min)
    home.activity_day_start = due
    home.night_from = next_local(home.tz, due, p.night_part_start)
    for started in home.cfg.day_starters:
        started(home, due, first=False)


class DayEnd(Rule):
    """The end of the activity day as a timer, fired in its place among the rules."""

    name = "day"

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        pass

    def next_due(self, home: Home) -> float:
        if home.rollover_at > 0 and (home.profile is not None or home.cfg.judge_days):
            return home.rollover_at
        return INF

    def fire(self, home: Home, due: float, out: Out) -> bool:
        if due != home.rollover_at:
            return False
        end_day(home, due, out)
        return True
