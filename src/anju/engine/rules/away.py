"""Leaving and coming home: ``night_door`` (out at night) and ``not_returned`` (out too long).

The door opens or closes and no motion follows indoors for ``away.confirm`` (``night_door.confirm``
at night): the resident left. This family moves the home's presence (``leave_at``, ``away``) that
the silence rules read; motion indoors means home again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import EventName
from anju.domain import Rule as RuleName
from anju.engine.fields import hhmm, parse_clock, parse_duration, parse_parts
from anju.engine.localtime import INF, UNSET, iso, local, next_local
from anju.engine.rules.base import Omissible, Out, Rule, Sections, finding

if TYPE_CHECKING:
    from anju.domain import DeviceKind
    from anju.engine.pack import RulePack
    from anju.engine.state import Dev, Home


@dataclass(frozen=True, slots=True, kw_only=True)
class AwayParams:
    night_door: bool
    night_start: int
    night_end: int
    night_confirm: int
    #: Night outings that ended at home after which a night outing is usual for the home.
    night_usual_after: int
    away_confirm: int
    not_returned: bool
    away_limit: tuple[int, ...]
    away_min: tuple[int, ...]
    away_max: tuple[int, ...]
    return_by: int
    warmup_days: int

    def in_night_window(self, minute: int) -> bool:
        if self.night_start <= self.night_end:
            return self.night_start <= minute < self.night_end
        return minute >= self.night_start or minute < self.night_end


class AwayState:
    """The departure under way or the outing in progress (presence itself is the core's)."""

    #: The door event that began the last confirmed departure (a redelivered copy of it, or one
    #: stamped the same instant, does not begin another).
    last_leave: float = UNSET
    leave_door: str = ""
    leave_night: bool = False
    away_due: float = INF
    away_fired: float = UNSET


class Away(Rule):
    name = "away"
    sections: ClassVar[Sections] = {
        "night_door": {
            "enabled": "bool",
            "start": "clock",
            "end": "clock",
            "confirm": "duration",
            "usual_after": "int",
        },
        "away": {"confirm": "duration"},
        "not_returned": {
            "enabled": "bool",
            "threshold": "parts",
            "return_by": "clock",
            "min": "parts",
            "max": "parts",
            "factor": "float",
            "margin": "duration",
        },
    }
    optional: ClassVar[Omissible] = {
        "away": frozenset({"confirm"}),
        "night_door": frozenset({"usual_after"}),
        "not_returned": frozenset({"min", "max", "factor", "margin"}),
    }
    events = frozenset({EventName.OPEN, EventName.CLOSE})
    state = AwayState

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        nd, nr = pack.section("night_door"), pack.section("not_returned")
        limit = parse_parts(nr["threshold"], "not_returned.threshold")
        self.p = AwayParams(
            night_door=bool(nd["enabled"]),
            night_start=parse_clock(nd["start"], "night_door.start"),
            night_end=parse_clock(nd["end"], "night_door.end"),
            night_confirm=parse_duration(nd["confirm"], "night_door.confirm"),
            night_usual_after=int(nd.get("usual_after", 0)),
            away_confirm=parse_duration(pack.section("away").get("confirm", "10m"), "away.confirm"),
            not_returned=bool(nr["enabled"]),
            away_limit=limit,
            away_min=parse_parts(nr["min"], "not_returned.min") if "min" in nr else limit,
            away_max=parse_parts(nr["max"], "not_returned.max") if "max" in nr else limit,
            return_by=parse_clock(nr["return_by"], "not_returned.return_by"),
            warmup_days=int(pack.section("learning")["warmup_days"]),
        )

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        st: AwayState = home.states
        if home.away <= 0 and t > st.last_leave:
            # A door that opens and is followed by no motion indoors is someone leaving, even when
            # its close is never reported (a door left ajar, a sensor that misses closes).
            p = self.p
            m = local(home.tz, t)
            home.leave_at, st.leave_door = t, device_id
            st.leave_night = p.night_door and p.in_night_window(m.hour * 60 + m.minute)
            self.touch(home, t + (p.night_confirm if st.leave_night else p.away_confirm))

    def came_home(self, home: Home, t: float) -> None:
        st: AwayState = home.states
        if home.away > 0:
            home.away_secs += t - max(home.away, home.activity_day_start)
            if home.profile is not None and home.away != home.hold:
                left = local(home.tz, home.away)
                home.profile.add_outing(
                    left.hour * 60 + left.minute, (t - home.away) / 60.0, at_night=st.leave_night
                )
            # The silence while out is no silence at home: it is neither learned nor alerted.
            if t > home.last_activity:
                home.since_alert += 1  # counted here: the core sees no new instant after this
            home.last_activity = t
        home.away, st.away_due, home.leave_at = UNSET, INF, UNSET

    def next_due(self, home: Home) -> float:
        st: AwayState = home.states
        p = self.p
        due = INF
        if home.leave_at > 0:
            due = home.leave_at + (p.night_confirm if st.leave_night else p.away_confirm)
        if home.away > 0 and p.not_returned and st.away_fired != home.away and st.away_due < due:
            due = st.away_due
        return due

    def fire(self, home: Home, due: float, out: Out) -> bool:
        st: AwayState = home.states
        p = self.p
        if home.leave_at > 0 and due == home.leave_at + (
            p.night_confirm if st.leave_night else p.away_confirm
        ):
            self._leave(home, st, due, out)
            return True
        if home.away > 0 and due == st.away_due and st.away_fired != home.away:
            self._not_returned(home, st, due, out)
            return True
        return False

    def _not_returned(self, home: Home, st: AwayState, due: float, out: Out) -> None:
        p = self.p
        st.away_fired = home.away
        left = local(home.tz, home.away)
        limit, source = self.away_limit(home, home.params.part(left.hour * 60 + left.minute))
        if due - home.away < limit - 1:
            limit, source = due - home.away, f"still out at {hhmm(p.return_by)}"
        detail = {
            "left_at": iso(home.away),
            "away_for_s": round(due - home.away),
            "threshold_s": round(limit),
            "threshold_source": source,
            "door_id": st.leave_door,
            "local_time": local(home.tz, due).strftime("%H:%M"),
        }
        out.append(finding(home, RuleName.NOT_RETURNED, due, f"away@{iso(home.away)}", None, detail))

    def _leave(self, home: Home, st: AwayState, due: float, out: Out) -> None:
        home.away, home.leave_at = home.leave_at, UNSET
        st.last_leave = home.away
        st.away_fired = UNSET
        p = self.p
        m = local(home.tz, home.away)
        allowed, source = self.away_limit(home, home.params.part(m.hour * 60 + m.minute))
        limit = home.away + allowed
        by = next_local(home.tz, home.away, p.return_by)
        # "Still out at return_by" is the default's rule; a home whose outings are learned is
        # judged by how long its own outings from this part of the day last.
        if source == "default" and by - home.away >= 3600:
            limit = min(limit, by)
        st.away_due = limit
        prof = home.profile
        usual = (
            p.night_usual_after > 0
            and prof is not None
            and prof.days >= p.warmup_days
            and prof.night_outings >= p.night_usual_after
        )
        if st.leave_night and not usual:
            detail = {
                "door_id": st.leave_door,
                "closed_at": iso(home.away),
                "local_time": m.strftime("%H:%M"),
                "no_motion_for_s": round(due - home.away),
                "night_window": f"{hhmm(p.night_start)}-{hhmm(p.night_end)}",
            }
            key = f"{st.leave_door}@{iso(home.away)}"
            out.append(finding(home, RuleName.NIGHT_DOOR, due, key, st.leave_door, detail))

    def away_limit(self, home: Home, part: int) -> tuple[float, str]:
        """How long the resident may stay out after leaving in day ``part``, and why."""
        p, prof = self.p, home.profile
        if prof is not None and prof.ready(p.warmup_days) and prof.away_thr[part] > 0:
            learned = float(prof.away_thr[part])
            lo, hi = p.away_min[part], p.away_max[part]
            if learned < lo:
                return float(lo), "learned, raised to the minimum"
            if learned > hi:
                return float(hi), "learned, lowered to the maximum"
            return learned, "learned"
        return float(p.away_limit[part]), "default"
