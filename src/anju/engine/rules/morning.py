"""``no_morning_activity``: no sign of life by the usual wake time plus a margin.

Shares the silence with ``inactivity`` (``SilenceState``): one alert per silence, whichever rule
raises it, and the same re-arming after an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import Rule as RuleName
from anju.engine.fields import parse_clock, parse_duration
from anju.engine.localtime import INF, UNSET, at_local, iso, local, next_local
from anju.engine.rules.base import Omissible, Out, Rule, Sections, finding
from anju.engine.rules.inactivity import SilenceState, alerted
from anju.engine.rules.silence import SilenceParams, compile_silence

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Home


@dataclass(frozen=True, slots=True, kw_only=True)
class MorningParams:
    morning: bool
    wake_min: int
    wake_margin: int
    wake_earliest: int
    #: Before the wake time is learned, the night's inactivity threshold watches the morning alone.
    wake_learned_only: bool
    warmup_days: int


class MorningState:
    """Today's deadline, and when the morning window it closes opened."""

    morning_at: float = UNSET
    morning_from: float = UNSET


class NoMorningActivity(Rule):
    name = "no_morning_activity"
    sections: ClassVar[Sections] = {
        "no_morning_activity": {
            "enabled": "bool",
            "wake": "clock",
            "margin": "duration",
            "earliest": "clock",
            "latest": "clock",
            "learned_only": "bool",
        }
    }
    state = MorningState
    optional: ClassVar[Omissible] = {"no_morning_activity": frozenset({"learned_only"})}

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        nma = pack.section("no_morning_activity")
        self.p = MorningParams(
            morning=bool(nma["enabled"]),
            wake_min=parse_clock(nma["wake"], "no_morning_activity.wake"),
            wake_margin=parse_duration(nma["margin"], "no_morning_activity.margin"),
            wake_earliest=parse_clock(nma["earliest"], "no_morning_activity.earliest"),
            wake_learned_only=bool(nma.get("learned_only", False)),
            warmup_days=int(pack.section("learning")["warmup_days"]),
        )
        self.silence: SilenceParams = compile_silence(pack)

    def reconfigured(self, home: Home) -> None:
        if home.clock > 0 and home.rollover_at > 0:
            self._set_morning(home, home.clock)

    def day_started(self, home: Home, t: float, *, first: bool) -> None:
        if first or home.states.morning_at <= t:
            self._set_morning(home, t)

    def next_due(self, home: Home) -> float:
        morning_at: float = home.states.morning_at
        return morning_at if self.p.morning and morning_at > 0 else INF

    def fire(self, home: Home, due: float, out: Out) -> bool:
        st: MorningState = home.states
        if due != st.morning_at or not self.p.morning:
            return False
        la = home.last_activity
        silence: SilenceState = home.states
        if (
            0 < la < st.morning_from
            and home.away <= 0
            and home.leave_at <= 0
            and silence.silence_alerted != la
            and home.since_alert >= self.silence.rearm_events
        ):
            alerted(silence, home, due, self.silence.cap(home, la)[0])
            prof = home.profile
            learned = prof is not None and prof.ready(self.p.warmup_days) and prof.wake_usual >= 0
            day = local(home.tz, due)
            detail = {
                "last_activity": iso(la),
                "deadline_local": day.strftime("%H:%M"),
                "wake_source": "learned" if learned else "default",
                "margin_s": self.p.wake_margin,
            }
            key = f"no_morning_activity@{day.date().isoformat()}"
            out.append(finding(home, RuleName.NO_MORNING_ACTIVITY, due, key, None, detail))
        self._set_morning(home, due)
        return True

    def _set_morning(self, home: Home, t: float) -> None:
        st: MorningState = home.states
        p = self.p
        wake = p.wake_min
        prof = home.profile
        if prof is not None and prof.ready(p.warmup_days) and prof.wake_usual >= 0:
            wake = prof.wake_usual
        elif p.wake_learned_only and prof is not None:
            # No usual wake time yet: the night's inactivity threshold watches the morning alone.
            st.morning_at = st.morning_from = UNSET
            return
        deadline = min(wake + p.wake_margin // 60, 1439)
        st.morning_at = next_local(home.tz, t, deadline)
        st.morning_from = at_local(home.tz, local(home.tz, st.morning_at).date(), p.wake_earliest)
