"""``routine_anomaly``: after warm-up, a restless night or a day at home with little activity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import Rule as RuleName
from anju.engine.localtime import local
from anju.engine.rules.base import Out, Rule, Sections, finding
from anju.engine.state import MOSTLY_HOME_S

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Home


class RoutineAnomaly(Rule):
    name = "routine_anomaly"
    sections: ClassVar[Sections] = {
        "routine_anomaly": {
            "enabled": "bool",
            "restless_factor": "float",
            "restless_min_events": "int",
            "low_activity_ratio": "float",
        }
    }

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        s = pack.section("routine_anomaly")
        self.enabled = bool(s["enabled"])
        self.restless_factor = float(s["restless_factor"])
        self.restless_min_events = int(s["restless_min_events"])
        self.low_activity_ratio = float(s["low_activity_ratio"])
        self.warmup_days = int(pack.section("learning")["warmup_days"])

    def judges_days(self) -> bool:
        return self.enabled

    def end_day(self, home: Home, due: float, out: Out) -> None:
        prof = home.profile
        if not self.enabled or prof is None or prof.days < max(self.warmup_days, 3):
            return
        local_day = local(home.tz, home.activity_day_start + 3600).date().isoformat()
        nights = home.night_count
        if (
            prof.night_usual >= 0
            and nights >= self.restless_min_events
            and nights > self.restless_factor * max(prof.night_usual, 1.0)
        ):
            detail = {
                "kind": "restless_night",
                "night_events": nights,
                "usual_night_events": prof.night_usual,
                "factor": self.restless_factor,
            }
            out.append(
                finding(home, RuleName.ROUTINE_ANOMALY, due, f"restless_night@{local_day}", None, detail)
            )
        if (
            home.away_secs < MOSTLY_HOME_S
            and prof.day_usual >= 20
            and home.day_count < self.low_activity_ratio * prof.day_usual
        ):
            detail = {
                "kind": "low_activity",
                "events": home.day_count,
                "usual_events": prof.day_usual,
                "ratio": self.low_activity_ratio,
            }
            out.append(
                finding(home, RuleName.ROUTINE_ANOMALY, due, f"low_activity@{local_day}", None, detail)
            )
