"""Per-household engine state the core keeps: the devices, the signs of life, presence and the days.

Each rule keeps its own fields beside these (``Home.states``, each rule's with its own snapshot form).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind
from anju.engine.learn import LOCATIONS, LearnedRoutine, location_class
from anju.engine.localtime import INF, UNSET
from anju.kinds import SENSOR_KINDS

if TYPE_CHECKING:
    from anju.engine.params import Params
    from anju.engine.rules.base import Config

#: A day away from home for less than this is "mostly at home": it is judged and its activity learned.
MOSTLY_HOME_S = 43200


def dump_fields(obj: object, names: Iterable[str]) -> dict[str, Any]:
    """``obj``'s fields as JSON (an infinite time as null)."""
    data: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        data[name] = None if value == INF else value
    return data


def load_fields(obj: object, data: dict[str, Any], names: Iterable[str]) -> None:
    """Fields of ``obj`` from ``data``, each converted to the type it has now; absent ones are kept."""
    for name in names:
        if name not in data:
            continue
        value = data[name]
        current = getattr(obj, name)
        if isinstance(current, bool):
            setattr(obj, name, bool(value))
        elif isinstance(current, int):
            setattr(obj, name, int(value))
        elif isinstance(current, str):
            setattr(obj, name, str(value))
        else:
            setattr(obj, name, INF if value is None else float(value))


class Dev:
    """One device as configured, and the last instant findings it raised (redeliveries are not new)."""

    __slots__ = ("battery_low", "fired", "fired_floor", "heartbeat_s", "kind", "last_seen", "loc")

    def __init__(
        self, kind: DeviceKind, heartbeat_s: int | None, battery_low: int | None, location: str = ""
    ) -> None:
        self.kind = kind
        #: Location class of the device (``learn.LOCATIONS``): its kind's (a door is the entrance),
        #: else read from its location words.
        fixed = SENSOR_KINDS[kind].location_class if kind in SENSOR_KINDS else None
        self.loc = LOCATIONS.index(fixed) if fixed else location_class(location)
        self.heartbeat_s = heartbeat_s
        #: The device profile's battery floor (None: a device heard but never configured).
        self.battery_low = battery_low
        #: When the device was last heard, from its first heartbeat on (kept by ``device_offline``,
        #: which watches it; a device that sends none is never tracked).
        self.last_seen = UNSET
        #: The last few instant findings (button, tamper, ...) as (epoch, rule): a redelivery is not
        #: new; anything not newer than ``fired_floor`` (older than all of those) counts as seen too.
        self.fired: tuple[tuple[float, str], ...] = ()
        self.fired_floor = UNSET

    def first(self, rule: str, t: float) -> bool:
        """Whether an instant finding of ``rule`` at ``t`` is new (not a redelivered message)."""
        mark = (t, rule)
        if t <= self.fired_floor or mark in self.fired:
            return False
        fired = sorted((*self.fired, mark))
        if len(fired) > 8:
            self.fired_floor = fired[0][0]
            fired = [f for f in fired if f[0] > self.fired_floor]
        self.fired = tuple(fired)
        return True

    def to_json(self) -> dict[str, Any]:
        return {"fired": [list(f) for f in self.fired], "fired_floor": self.fired_floor}

    def load(self, data: dict[str, Any]) -> None:
        self.fired = tuple((float(t), str(rule)) for t, rule in data.get("fired", ()))
        self.fired_floor = float(data.get("fired_floor", UNSET))


class Home:
    """What the core remembers about one household; rules keep their slices in ``states``."""

    __slots__ = (
        "activity_day_start",
        "away",
        "away_secs",
        "bed_gap",
        "bed_start",
        "cfg",
        "clock",
        "day_count",
        "devices",
        "hid",
        "hold",
        "hour_at",
        "hour_cell",
        "last_activity",
        "last_cell",
        "leave_at",
        "night_count",
        "night_from",
        "params",
        "profile",
        "rollover_at",
        "sched",
        "since_alert",
        "states",
        "tz",
        "wake_from",
        "wake_gap",
        "wake_today",
    )

    def __init__(self, hid: str, tz: ZoneInfo, cfg: Config) -> None:
        self.hid = hid
        self.tz = tz
        self.cfg = cfg
        self.params: Params = cfg.params
        self.devices: dict[str, Dev] = {}
        self.profile: LearnedRoutine | None = LearnedRoutine() if cfg.params.learning else None
        #: Every rule's fields (one slotted object; each rule reads it through its own state class).
        self.states: Any = cfg.new_states()
        self.last_activity = UNSET
        #: Location class x 24 + local hour of the last sign of life (-1: none yet).
        self.last_cell = -1
        #: Cache of the local hour: instants in [hour_at, hour_at + 3600) have local hour hour_cell.
        self.hour_at = UNSET
        self.hour_cell = 0
        #: Signs of life since the last silence alert (large: none yet); the silence rules reset it.
        self.since_alert = 1 << 30
        #: Presence, moved by the away rules: the door closed with no motion yet (the resident may
        #: have left; time of the close), and away since (the door event that began it).
        self.leave_at = UNSET
        self.away = UNSET
        #: Latest instant the household's timers have been run to.
        self.clock = UNSET
        #: Earliest heap entry for this home (timers are never earlier than it).
        self.sched = INF
        #: The activity day: when it ends, when it began, when its night part begins; what it saw.
        self.rollover_at = UNSET
        self.activity_day_start = UNSET
        self.night_from = INF
        self.wake_from = UNSET
        self.away_secs = 0.0
        self.day_count = 0
        self.night_count = 0
        self.bed_gap = 0.0
        self.bed_start = UNSET
        self.wake_today = -1
        #: The silence that ended at ``wake_today`` (the longest one ending in the morning window).
        self.wake_gap = 0.0
        #: The start (last activity, or leaving) of the silence or outing whose high alert went out
        #: unconfirmed: it is not learned from when it ends until an outcome says it was ordinary.
        self.hold = UNSET

    FIELDS = (
        "activity_day_start",
        "away",
        "away_secs",
        "bed_gap",
        "bed_start",
        "clock",
        "day_count",
        "hold",
        "last_activity",
        "last_cell",
        "leave_at",
        "night_count",
        "night_from",
        "rollover_at",
        "since_alert",
        "wake_from",
        "wake_gap",
        "wake_today",
    )

    def to_json(self) -> dict[str, Any]:
        data = dump_fields(self, self.FIELDS)
        data["devices"] = {dev_id: dev.to_json() for dev_id, dev in self.devices.items()}
        data["profile"] = self.profile.to_json() if self.profile is not None else None
        return data

    def load(self, data: dict[str, Any]) -> None:
        load_fields(self, data, self.FIELDS)
        for dev_id, dev_data in (data.get("devices") or {}).items():
            dev = self.devices.get(dev_id)
            if dev is not None:
                dev.load(dev_data)
        if data.get("profile") is not None and self.params.learning:
            self.profile = LearnedRoutine.from_json(data["profile"])
