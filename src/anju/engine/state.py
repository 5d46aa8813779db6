"""Per-household engine state: small, slotted, and JSON round-trippable for restarts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind
from anju.engine.learn import ENTRANCE, Profile, location_class
from anju.engine.params import Params

#: "Not set" for a time (epoch seconds); no real event is at 1970-01-01.
UNSET = -1.0
INF = float("inf")


class Dev:
    """One device as the engine sees it."""

    __slots__ = (
        "battery_low",
        "fired",
        "fired_floor",
        "heartbeat_s",
        "kind",
        "last_seen",
        "loc",
        "low_since",
        "offline_fired",
        "open_at",
        "open_fired",
    )

    def __init__(
        self, kind: DeviceKind, heartbeat_s: int | None, battery_low: int, location: str = ""
    ) -> None:
        self.kind = kind
        #: Location class of the device (``learn.LOCATIONS``): a door is the entrance.
        self.loc = ENTRANCE if kind is DeviceKind.DOOR else location_class(location)
        self.heartbeat_s = heartbeat_s
        self.battery_low = battery_low
        #: Last message after the first heartbeat (liveness is tracked only from then on).
        self.last_seen = UNSET
        self.offline_fired = UNSET
        self.low_since = UNSET
        self.open_at = UNSET
        self.open_fired = UNSET
        #: The last few instant findings (button, tamper) as (epoch, rule): a redelivery is not new;
        #: anything not newer than ``fired_floor`` (older than all of those) counts as seen too.
        self.fired: tuple[tuple[float, str], ...] = ()
        self.fired_floor = UNSET

    _TIMES = ("last_seen", "offline_fired", "low_since", "open_at", "open_fired")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in self._TIMES}
        data["fired"] = [list(f) for f in self.fired]
        data["fired_floor"] = self.fired_floor
        return data

    def load(self, data: dict[str, Any]) -> None:
        for name in self._TIMES:
            setattr(self, name, float(data.get(name, UNSET)))
        self.fired = tuple((float(t), str(rule)) for t, rule in data.get("fired", ()))
        self.fired_floor = float(data.get("fired_floor", UNSET))


class Home:
    """Everything the engine remembers about one household."""

    __slots__ = (
        "activity_day_start",
        "away",
        "away_due",
        "away_fired",
        "away_secs",
        "bed_gap",
        "bed_start",
        "cap_alerted",
        "cap_due",
        "clock",
        "day_count",
        "devices",
        "hid",
        "hour_at",
        "hour_cell",
        "inact_armed",
        "inact_due",
        "inact_for",
        "last_activity",
        "last_cell",
        "last_leave",
        "leave_at",
        "leave_door",
        "leave_night",
        "morning_at",
        "morning_from",
        "night_count",
        "night_from",
        "params",
        "profile",
        "rollover_at",
        "sched",
        "silence_alerted",
        "since_alert",
        "tz",
        "wake_from",
        "wake_gap",
        "wake_today",
    )

    def __init__(self, hid: str, tz: ZoneInfo, params: Params) -> None:
        self.hid = hid
        self.tz = tz
        self.params = params
        self.devices: dict[str, Dev] = {}
        self.profile: Profile | None = Profile() if params.learning else None
        self.last_activity = UNSET
        #: Location class x 24 + local hour of the last sign of life (-1: none yet).
        self.last_cell = -1
        #: Cache of the local hour: instants in [hour_at, hour_at + 3600) have local hour hour_cell.
        self.hour_at = UNSET
        self.hour_cell = 0
        #: The last_activity whose silence has already been alerted (inactivity or morning).
        self.silence_alerted = UNSET
        self.inact_for = UNSET
        self.inact_due = INF
        #: Whether ``inact_due`` was computed for a re-armed home (learned threshold) or not (the cap).
        self.inact_armed = False
        #: The last_activity whose silence has had its alert at the day part's max (or whose first
        #: alert came at the max already); ``cap_due``: when that second alert is due.
        self.cap_alerted = UNSET
        self.cap_due = INF
        #: Door closed with no motion yet: the resident may have left (time of the close).
        self.leave_at = UNSET
        #: The door event that began the last confirmed departure (a redelivered copy of it, or one
        #: stamped the same instant, does not begin another).
        self.last_leave = UNSET
        self.leave_door = ""
        self.leave_night = False
        #: Away since (the door close that began it), else UNSET.
        self.away = UNSET
        self.away_due = INF
        self.away_fired = UNSET
        self.away_secs = 0.0
        #: Latest instant the household's timers have been run to.
        self.clock = UNSET
        #: Earliest heap entry for this home (timers are never earlier than it).
        self.sched = INF
        self.rollover_at = UNSET
        self.activity_day_start = UNSET
        self.night_from = INF
        self.morning_at = UNSET
        self.morning_from = UNSET
        self.wake_from = UNSET
        self.wake_today = -1
        #: The silence that ended at ``wake_today`` (the longest one ending in the morning window).
        self.wake_gap = 0.0
        #: Signs of life since the last silence alert (large: none yet).
        self.since_alert = 1 << 30
        self.day_count = 0
        self.night_count = 0
        self.bed_gap = 0.0
        self.bed_start = UNSET

    _FIELDS = (
        "activity_day_start",
        "away",
        "away_due",
        "away_fired",
        "away_secs",
        "bed_gap",
        "bed_start",
        "cap_alerted",
        "clock",
        "day_count",
        "last_activity",
        "last_cell",
        "last_leave",
        "leave_at",
        "leave_door",
        "leave_night",
        "morning_at",
        "morning_from",
        "night_count",
        "night_from",
        "rollover_at",
        "silence_alerted",
        "since_alert",
        "wake_from",
        "wake_gap",
        "wake_today",
    )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            data[name] = None if value == INF else value
        data["devices"] = {dev_id: dev.to_json() for dev_id, dev in self.devices.items()}
        data["profile"] = self.profile.to_json() if self.profile is not None else None
        return data

    def load(self, data: dict[str, Any]) -> None:
        for name in self._FIELDS:
            if name not in data:
                continue
            value = data[name]
            current = getattr(self, name)
            if isinstance(current, bool):
                setattr(self, name, bool(value))
            elif isinstance(current, int):
                setattr(self, name, int(value))
            elif isinstance(current, str):
                setattr(self, name, str(value))
            else:
                setattr(self, name, INF if value is None else float(value))
        for dev_id, dev_data in (data.get("devices") or {}).items():
            dev = self.devices.get(dev_id)
            if dev is not None:
                dev.load(dev_data)
        if data.get("profile") is not None and self.params.learning:
            self.profile = Profile.from_json(data["profile"])
        self.inact_for = UNSET
        self.inact_due = INF
        self.cap_due = INF
        if "cap_alerted" not in data:
            # A snapshot from before the second alert: its alerted silence has had all its alerts.
            self.cap_alerted = self.silence_alerted
