"""``inactivity``: nobody moved at home for longer than the threshold (and, if asked, again at the max).

The threshold of a silence: before warm-up, the default of the day part reached (``judge_by``);
after it, what this home's silences begun at that hour after that place have lasted
(``silence.py``), kept between the day part's min and max. After an alert, ``rearm_events`` signs of
life re-arm the learned threshold; until then the day part's max (the safety cap) watches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import Rule as RuleName
from anju.engine.learn import LOCATIONS
from anju.engine.localtime import INF, NAN, UNSET, iso, local
from anju.engine.rules.base import Omissible, Out, Rule, Sections, finding
from anju.engine.rules.silence import SilenceParams, compile_silence, learned, threshold
from anju.engine.state import dump_fields, load_fields

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Home


class SilenceState:
    """The silence since the last sign of life: its alerts, and its deadline (cached)."""

    #: The last_activity whose silence has already been alerted (inactivity or morning).
    silence_alerted: float = UNSET
    #: The last_activity whose silence has had its alert at the day part's max (or whose first
    #: alert came at the max already); ``cap_due``: when that second alert is due.
    cap_alerted: float = UNSET
    cap_due: float = INF
    #: The last_activity ``inact_due`` was computed for, and whether for a re-armed home
    #: (learned threshold) or not (the cap).
    inact_for: float = UNSET
    inact_due: float = INF
    inact_armed: bool = False


#: What a snapshot keeps of the silence (the rest is derived again).
_KEPT = ("cap_alerted", "silence_alerted")


def alerted(st: SilenceState, home: Home, due: float, cap: float) -> None:
    """A silence alert for the silence since ``home.last_activity`` is raised at ``due``."""
    la = home.last_activity
    st.silence_alerted = la
    home.since_alert = 0
    st.cap_due = INF
    if due - la >= cap - 1:
        st.cap_alerted = la  # alerted at the max already: no second alert for this silence


class Inactivity(Rule):
    name = "inactivity"
    sections: ClassVar[Sections] = {
        "inactivity": {
            "enabled": "bool",
            "threshold": "parts",
            "min": "parts",
            "max": "parts",
            "rearm_events": "int",
            "judge_by": "choice:reached,longer",
            "alert_again_at_max": "bool",
        }
    }
    state = SilenceState
    optional: ClassVar[Omissible] = {
        "inactivity": frozenset({"rearm_events", "judge_by", "alert_again_at_max"}),
    }

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        self.p: SilenceParams = compile_silence(pack)

    def dump(self, home: Home) -> dict[str, Any]:
        return dump_fields(home.states, _KEPT)

    def load(self, data: dict[str, Any], home: Home) -> None:
        st: SilenceState = home.states
        load_fields(st, data, _KEPT)
        st.inact_for = UNSET
        st.inact_due = INF
        st.cap_due = INF

    def load_legacy(self, data: dict[str, Any], home: Home) -> None:
        self.load(data, home)
        if "cap_alerted" not in data:
            # A snapshot from before the second alert: its alerted silence has had all its alerts.
            st: SilenceState = home.states
            st.cap_alerted = st.silence_alerted

    def after_life(self) -> float:
        return self.p.inact_floor

    def reconfigured(self, home: Home) -> None:
        home.states.inact_for = NAN

    def day_started(self, home: Home, t: float, *, first: bool) -> None:
        if not first and home.profile is not None:
            home.states.inact_for = NAN  # relearned: the deadline may have moved

    def next_due(self, home: Home) -> float:
        p = self.p
        la = home.last_activity
        if home.away > 0 or not p.inactivity or la <= 0:
            return INF
        st: SilenceState = home.states
        if p.again_at_max and st.silence_alerted == la and st.cap_alerted != la:
            st.cap_due = la + p.cap(home, la)[0]
            return st.cap_due
        if st.silence_alerted == la:
            return INF
        armed = home.since_alert >= p.rearm_events
        if st.inact_for != la or st.inact_armed != armed:
            st.inact_armed = armed
            if armed:
                st.inact_due = p.due(home, la)
            else:
                # Not re-armed since the last silence alert (a stray event or two): the silence is
                # still watched, with the safety cap of the day part it began in -- a fall right
                # after a few steps must not go unseen until the next alert.
                st.inact_due = la + p.cap(home, la)[0]
            st.inact_for = la
        return st.inact_due

    def fire(self, home: Home, due: float, out: Out) -> bool:
        if home.away > 0:
            return False
        st: SilenceState = home.states
        la = home.last_activity
        if due == st.inact_due and st.inact_for == la and st.silence_alerted != la:
            self._first_alert(home, st, due, out)
            return True
        if due == st.cap_due and st.silence_alerted == la and st.cap_alerted != la:
            self._again_at_max(home, st, due, out)
            return True
        return False

    def _first_alert(self, home: Home, st: SilenceState, due: float, out: Out) -> None:
        p = self.p
        la = home.last_activity
        armed = home.since_alert >= p.rearm_events
        signs = home.since_alert
        cap, cap_part = p.cap(home, la)
        if not armed:
            thr, part = cap, cap_part
            source = f"safety cap: only {signs} sign(s) of life since the last silence alert"
            by = "day part cap"
        elif learned(home):
            thr, source, part, by = p.learned_threshold(home, la)
        else:
            thr, source, part = threshold(p, home, due)
            if p.inact_by_start:
                began = threshold(p, home, la)
                if began[0] > thr:
                    thr, source, part = began[0], f"{began[1]}, of the day part it began in", began[2]
            by = "day part"
        alerted(st, home, due, cap)
        out.append(self._finding(home, due, "inactivity", thr, source, part, by))

    def _again_at_max(self, home: Home, st: SilenceState, due: float, out: Out) -> None:
        """The silence already alerted on goes on to its day part's max: alert again (the resident
        may have been fine when called, and fallen since; or nobody answered the first time)."""
        st.cap_alerted = home.last_activity
        st.cap_due = INF
        cap, part = self.p.cap(home, home.last_activity)
        source = "max of the day part: the silence went on after its first alert"
        out.append(
            self._finding(home, due, "inactivity-max", cap, source, part, "day part max, second alert")
        )

    @staticmethod
    def _finding(home: Home, due: float, kind: str, thr: float, source: str, part: str, by: str) -> Any:
        la = home.last_activity
        where = LOCATIONS[home.last_cell // 24] if home.last_cell >= 0 else "unknown"
        detail = {
            "last_activity": iso(la),
            "silent_for_s": round(due - la),
            "threshold_s": round(thr),
            "threshold_source": source,
            "day_part": part,
            "local_time": local(home.tz, due).strftime("%H:%M"),
            "last_location": where,
            "threshold_by": by,
        }
        return finding(home, RuleName.INACTIVITY, due, f"{kind}@{iso(la)}", None, detail)
