"""``door_left_open``: a door stayed open longer than ``threshold``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import EventName
from anju.domain import Rule as RuleName
from anju.engine.fields import parse_duration
from anju.engine.localtime import INF, UNSET, iso
from anju.engine.rules.base import Out, Rule, Sections, finding, forget_configured

if TYPE_CHECKING:
    from anju.domain import DeviceKind
    from anju.engine.pack import RulePack
    from anju.engine.state import Dev, Home

_OPEN = EventName.OPEN


class Opening:
    """One door's opening: since when it is open, and the opening already alerted on."""

    __slots__ = ("open_at", "open_fired")

    def __init__(self) -> None:
        self.open_at = UNSET
        self.open_fired = UNSET


class DoorState:
    """The doors that have opened: door id -> its opening (None until one opens); and the earliest
    opening not yet alerted on (INF: none), derived from them."""

    doors: dict[str, Opening] | None = None
    first_open: float = INF


def _pending(st: DoorState) -> None:
    st.first_open = min(
        (o.open_at for o in (st.doors or {}).values() if o.open_at > 0 and o.open_fired != o.open_at),
        default=INF,
    )


class DoorLeftOpen(Rule):
    name = "door_left_open"
    sections: ClassVar[Sections] = {"door_left_open": {"enabled": "bool", "threshold": "duration"}}
    events = frozenset({EventName.OPEN, EventName.CLOSE})
    state = DoorState

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        s = pack.section("door_left_open")
        self.enabled = bool(s["enabled"])
        self.limit = parse_duration(s["threshold"], "door_left_open.threshold")

    def dump(self, home: Home) -> dict[str, Any]:
        st: DoorState = home.states
        return {"doors": {d: [o.open_at, o.open_fired] for d, o in (st.doors or {}).items()}}

    def load(self, data: dict[str, Any], home: Home) -> None:
        st: DoorState = home.states
        doors = st.doors = forget_configured(st.doors, home)
        for door_id, (open_at, open_fired) in (data.get("doors") or {}).items():
            if door_id in home.devices:
                o = doors[door_id] = Opening()
                o.open_at, o.open_fired = float(open_at), float(open_fired)
        _pending(st)

    def load_legacy(self, data: dict[str, Any], home: Home) -> None:
        st: DoorState = home.states
        doors = st.doors = forget_configured(st.doors, home)
        for d, v in (data.get("devices") or {}).items():
            open_at, open_fired = float(v.get("open_at", UNSET)), float(v.get("open_fired", UNSET))
            if d in home.devices and (open_at > 0 or open_fired > 0):
                o = doors[d] = Opening()
                o.open_at, o.open_fired = open_at, open_fired
        _pending(st)

    def forget(self, home: Home, device_ids: set[str]) -> None:
        st: DoorState = home.states
        if st.doors:
            for d in device_ids:
                st.doors.pop(d, None)
            _pending(st)

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        st: DoorState = home.states
        doors = st.doors
        if event is _OPEN:
            if doors is None:
                doors = st.doors = {}
            o = doors.get(device_id)
            if o is None:
                o = doors[device_id] = Opening()
            if t != o.open_at and t != o.open_fired:  # a redelivered open is the same opening
                o.open_at, o.open_fired = t, UNSET
            _pending(st)
            if self.enabled:
                self.touch(home, t + self.limit)
        elif doors is not None and (o := doors.get(device_id)) is not None and o.open_at > 0:
            o.open_at = UNSET
            _pending(st)

    def next_due(self, home: Home) -> float:
        first: float = home.states.first_open
        return first + self.limit if self.enabled else INF

    def fire(self, home: Home, due: float, out: Out) -> bool:
        st: DoorState = home.states
        doors = st.doors
        if not self.enabled or not doors or st.first_open + self.limit > due:
            return False
        fired = False
        for door_id, o in doors.items():
            if o.open_at > 0 and o.open_fired != o.open_at and o.open_at + self.limit <= due:
                o.open_fired = o.open_at
                detail = {
                    "door_id": door_id,
                    "opened_at": iso(o.open_at),
                    "open_for_s": round(due - o.open_at),
                    "threshold_s": self.limit,
                }
                out.append(
                    finding(
                        home, RuleName.DOOR_LEFT_OPEN, due, f"{door_id}@{iso(o.open_at)}", door_id, detail
                    )
                )
                fired = True
        _pending(st)
        return fired
