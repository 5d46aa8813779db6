"""The engine: per-household state, fed observations, advanced by a watermark.

Pure and on event time: no I/O, no wall clock. Timers are derived from state and kept in one heap
of (due, household) entries that may be early but never late; popping an early entry just
re-evaluates that home. Every finding's key is derived from the evidence (the silence's last
activity, the door's opening time, ...), so a replay or a restart raises the same keys again and
the dispatch layer stores each once.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from anju.clock import isoformat
from anju.domain import RULE_SEVERITY, DeviceKind, EventName, Rule
from anju.engine.learn import LOCATIONS, Profile
from anju.engine.model import Finding, HouseholdSpec, Observation
from anju.engine.pack import DAY_PARTS, RulePack, default_pack_path, load_pack
from anju.engine.params import Params, compile_pack
from anju.engine.state import INF, UNSET, Dev, Home

#: Silences shorter than this are ordinary life and are not learned from.
MIN_SILENCE_S = 300.0
_NAN = float("nan")
_MOTION, _OPEN, _CLOSE = EventName.MOTION, EventName.OPEN, EventName.CLOSE
_PRESS, _LONG_PRESS = EventName.PRESS, EventName.LONG_PRESS
_HEARTBEAT, _ONLINE = EventName.HEARTBEAT, EventName.ONLINE
_OFFLINE, _TAMPER = EventName.OFFLINE, EventName.TAMPER


def _iso(t: float) -> str:
    return isoformat(datetime.fromtimestamp(t, UTC))


def _local(tz: ZoneInfo, t: float) -> datetime:
    return datetime.fromtimestamp(t, tz)


def _at_local(tz: ZoneInfo, day: date, minute: int) -> float:
    minute = min(max(minute, 0), 1439)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).timestamp()


def _next_local(tz: ZoneInfo, t: float, minute: int) -> float:
    """The first instant strictly after ``t`` when the local clock shows ``minute``."""
    day = _local(tz, t).date()
    cand = _at_local(tz, day, minute)
    if cand <= t:
        cand = _at_local(tz, day + timedelta(days=1), minute)
    return cand


class Engine:
    """Evaluates every rule of a pack on event time, per household."""

    def __init__(self, pack: RulePack | None = None, *, default_timezone: str = "Asia/Shanghai") -> None:
        self.pack = pack if pack is not None else load_pack(default_pack_path())
        self.default_timezone = default_timezone
        self._base = compile_pack(self.pack)
        self._params: dict[str, Params] = {"": self._base}
        self._homes: dict[str, Home] = {}
        self._heap: list[tuple[float, str]] = []
        self._wm = UNSET
        self._tz_cache: dict[str, ZoneInfo] = {}

    @property
    def watermark(self) -> datetime | None:
        """How far event time has been advanced (None before the first ``advance``)."""
        return datetime.fromtimestamp(self._wm, UTC) if self._wm > 0 else None

    # ---- configuration -------------------------------------------------------------------------

    def _params_for(self, overrides: dict[str, Any]) -> Params:
        if not overrides:
            return self._base
        key = json.dumps(overrides, sort_keys=True, default=str)
        params = self._params.get(key)
        if params is None:
            battery = "threshold" in (overrides.get("low_battery") or {})
            params = compile_pack(self.pack.with_overrides(overrides), battery_overridden=battery)
            self._params[key] = params
        return params

    def configure(self, households: Iterable[HouseholdSpec]) -> None:
        """Add or update homes (devices, timezone, overrides); state of known devices is kept.

        Raises ValueError for an unknown timezone or invalid overrides (nothing is half-applied
        for that home).
        """
        for spec in households:
            tz = ZoneInfo(spec.timezone or self.default_timezone)
            params = self._params_for(spec.overrides)
            home = self._homes.get(spec.household_id)
            if home is None:
                home = Home(spec.household_id, tz, params)
                self._homes[spec.household_id] = home
                if self._wm > 0:
                    # Silence is counted from when monitoring began, not from the epoch.
                    home.last_activity = self._wm
            else:
                home.tz = tz
                if params.learning and home.profile is None:
                    home.profile = Profile()
                home.params = params
            devices: dict[str, Dev] = {}
            for d in spec.devices:
                low = params.battery_threshold if params.battery_overridden else d.battery_low
                dev = home.devices.get(d.device_id)
                if dev is None or dev.kind != d.kind:
                    dev = Dev(d.kind, d.heartbeat_s, low, d.location)
                else:
                    dev.heartbeat_s, dev.battery_low = d.heartbeat_s, low
                    dev.loc = Dev(d.kind, None, low, d.location).loc
                devices[d.device_id] = dev
            home.devices = devices
            home.inact_for = _NAN
            if home.clock > 0 and home.rollover_at > 0:
                self._set_morning(home, home.clock)
            self._reschedule(home)

    def household_ids(self) -> list[str]:
        return list(self._homes)

    def offline_devices(self, household_id: str) -> list[str]:
        """Devices currently declared offline (monitoring of the home is degraded while any is)."""
        home = self._homes.get(household_id)
        if home is None:
            return []
        return [
            d
            for d, dev in home.devices.items()
            if dev.offline_fired > 0 and dev.offline_fired == dev.last_seen
        ]

    def _adopt(self, household_id: str) -> Home:
        """A household never configured: monitored with the pack defaults and its own devices."""
        tz = self._tz_cache.get(self.default_timezone)
        if tz is None:
            tz = self._tz_cache[self.default_timezone] = ZoneInfo(self.default_timezone)
        home = Home(household_id, tz, self._base)
        self._homes[household_id] = home
        return home

    # ---- scheduling ----------------------------------------------------------------------------

    def _touch(self, home: Home, due: float) -> None:
        if due < home.sched:
            home.sched = due
            heapq.heappush(self._heap, (due, home.hid))

    def _reschedule(self, home: Home) -> None:
        home.sched = INF
        self._touch(home, self._next_due(home))

    # ---- input ---------------------------------------------------------------------------------

    def observe(self, obs: Observation) -> list[Finding]:
        """Apply one observation; returns what fired, including this home's timers due before it."""
        return self.feed(
            obs.household_id, obs.device_id, obs.kind, obs.event, obs.at.timestamp(), obs.battery
        )

    def feed(
        self,
        household_id: str,
        device_id: str,
        kind: DeviceKind,
        event: EventName,
        t: float,
        battery: int | None = None,
    ) -> list[Finding]:
        """``observe`` without the Observation: event time ``t`` as epoch seconds (replay's fast path)."""
        home = self._homes.get(household_id)
        if home is None:
            home = self._adopt(household_id)
        out: list[Finding] = []
        if t > home.clock:
            if t >= home.sched:
                self._run(home, t, out)
            home.clock = t
        if home.rollover_at <= 0:
            self._start_days(home, t)
        dev = home.devices.get(device_id)
        if dev is None:
            # Heard but not configured (replay without a fleet file): learn it, never offline.
            dev = Dev(kind, None, home.params.battery_threshold)
            home.devices[device_id] = dev
        p = home.params
        if battery is not None and p.low_battery:
            self._battery(home, device_id, battery, dev, t, out)
        # Identity tests, not set lookups: an Enum's hash is a Python-level call (hot path).
        liveness = event is _HEARTBEAT or event is _ONLINE
        if dev.heartbeat_s is not None and t > dev.last_seen and (dev.last_seen > 0 or liveness):
            # Liveness is tracked from the first heartbeat on; any later message counts.
            rearm = dev.last_seen <= 0 or dev.offline_fired == dev.last_seen
            dev.last_seen = t
            if rearm:
                self._touch(home, t + p.missed_intervals * dev.heartbeat_s)
        if event is _MOTION:
            if t < home.last_activity:
                return out  # late: older than what is known; it changes no state
            if home.away > 0 or home.leave_at > 0:
                self._come_home(home, t)
            self._activity(home, t, dev.loc)
            return out
        if liveness:
            return out
        if event is _OFFLINE:
            # The gateway says so (Zigbee2MQTT availability): no need to wait for missed heartbeats.
            if p.offline and self._first(dev, "offline", t):
                if t > dev.last_seen:
                    dev.offline_fired = dev.last_seen = t
                detail = {"device_id": device_id, "reported_by": "gateway availability"}
                key = f"{device_id}@{_iso(t)}:gateway"
                out.append(self._finding(home, Rule.DEVICE_OFFLINE, t, key, device_id, detail))
            return out
        if event is _TAMPER:
            if p.tamper and self._first(dev, "tamper", t):
                detail = {"device_id": device_id, "kind": kind.value}
                out.append(self._finding(home, Rule.TAMPER, t, f"{device_id}@{_iso(t)}", device_id, detail))
            return out
        if (event is _PRESS or event is _LONG_PRESS) and self._first(dev, "button", t):
            detail = {"event": event.value, "device_id": device_id}
            out.append(self._finding(home, Rule.BUTTON, t, f"{device_id}@{_iso(t)}", device_id, detail))
        if t < home.last_activity:
            return out  # late: older than what is known; it changes no state
        if event is _OPEN:
            if t != dev.open_at and t != dev.open_fired:  # a redelivered open is the same opening
                dev.open_at, dev.open_fired = t, UNSET
            if p.door_left_open:
                self._touch(home, t + p.door_open_limit)
            if home.away <= 0 and t > home.last_leave:
                # A door that opens and is followed by no motion indoors is someone leaving, even
                # when its close is never reported (a door left ajar, a sensor that misses closes).
                self._may_leave(home, t, device_id)
        elif event is _CLOSE:
            dev.open_at = UNSET
            if home.away <= 0 and t > home.last_leave:
                self._may_leave(home, t, device_id)
        self._activity(home, t, dev.loc)
        return out

    def _may_leave(self, home: Home, t: float, door_id: str) -> None:
        p = home.params
        m = _local(home.tz, t)
        home.leave_at, home.leave_door = t, door_id
        home.leave_night = p.night_door and p.in_night_window(m.hour * 60 + m.minute)
        self._touch(home, t + (p.night_confirm if home.leave_night else p.away_confirm))

    @staticmethod
    def _first(dev: Dev, rule: str, t: float) -> bool:
        """Whether an instant finding at ``t`` is new (not a redelivered message)."""
        mark = (t, rule)
        if t <= dev.fired_floor or mark in dev.fired:
            return False
        fired = sorted((*dev.fired, mark))
        if len(fired) > 8:
            dev.fired_floor = fired[0][0]
            fired = [f for f in fired if f[0] > dev.fired_floor]
        dev.fired = tuple(fired)
        return True

    def _come_home(self, home: Home, t: float) -> None:
        if home.away > 0:
            home.away_secs += t - max(home.away, home.activity_day_start)
            if home.profile is not None:
                left = _local(home.tz, home.away)
                home.profile.add_outing(
                    left.hour * 60 + left.minute, (t - home.away) / 60.0, at_night=home.leave_night
                )
            # The silence while out is no silence at home: it is neither learned nor alerted.
            if t > home.last_activity:
                home.since_alert += 1  # counted here: _activity sees no new instant after this
            home.last_activity = t
        home.away, home.away_due, home.leave_at = UNSET, INF, UNSET
        self._touch(home, t + home.params.inact_floor)

    @staticmethod
    def _hour(home: Home, t: float) -> int:
        """Local hour at ``t``, cached per home for the hour around it (the hot path)."""
        start = home.hour_at
        if start <= t < start + 3600.0:
            return home.hour_cell
        m = _local(home.tz, t)
        home.hour_at = t - (m.minute * 60 + m.second + m.microsecond / 1e6)
        home.hour_cell = m.hour
        return m.hour

    def _activity(self, home: Home, t: float, loc: int) -> None:
        """Bookkeeping for a sign of life at ``t`` (not older than the last one) at location ``loc``."""
        la = home.last_activity
        # Each sign of life moves the silence's deadline to at least ``inact_floor`` from now; an
        # early heap entry only re-evaluates the home, so one entry per floor interval suffices.
        due = t + home.params.inact_floor
        if due < home.sched:
            home.sched = due
            heapq.heappush(self._heap, (due, home.hid))
        gap = t - la
        if gap > 0 and la > 0 and home.away <= 0 and home.profile is not None:
            # Every gap, short ones too: they show the resident was there at that hour.
            if home.last_cell >= 0:
                home.profile.add_silence(home.last_cell, gap)
            if gap >= MIN_SILENCE_S and la >= home.night_from - 4 * 3600 and gap > home.bed_gap:
                home.bed_gap, home.bed_start = gap, la
        if t > la:
            home.since_alert += 1  # a redelivered event (same instant) is not one more sign of life
        home.last_activity = t
        home.last_cell = loc * 24 + self._hour(home, t)
        home.day_count += 1
        if t >= home.night_from:
            home.night_count += 1
        if gap >= 3600 and la > 0 and home.away <= 0 and gap > home.wake_gap:
            # Getting up: the end of the longest silence that ends in the morning window (a trip
            # to the toilet at 05:10 followed by two more hours of sleep is not the wake time).
            m = _local(home.tz, t)
            minute = m.hour * 60 + m.minute
            p = home.params
            if p.wake_earliest <= minute <= p.wake_latest + p.wake_margin // 60:
                home.wake_today, home.wake_gap = minute, gap

    def _battery(
        self, home: Home, device_id: str, battery: int, dev: Dev, t: float, out: list[Finding]
    ) -> None:
        if battery < dev.battery_low:
            if dev.low_since <= 0 and self._first(dev, "low_battery", t):
                dev.low_since = t
                out.append(
                    self._finding(
                        home,
                        Rule.LOW_BATTERY,
                        t,
                        f"{device_id}@{_iso(t)}",
                        device_id,
                        {"device_id": device_id, "battery": battery, "threshold": dev.battery_low},
                    )
                )
        elif battery >= dev.battery_low + 10:
            dev.low_since = UNSET  # a new battery: the next low reading is a new alert

    # ---- time ----------------------------------------------------------------------------------

    def advance(self, now: datetime) -> list[Finding]:
        """Move the watermark to ``now`` (never backwards) and fire every timer due by then."""
        return self.advance_to(now.timestamp())

    def advance_to(self, t: float) -> list[Finding]:
        """``advance`` with event time as epoch seconds (replay's fast path)."""
        if t <= self._wm:
            return []
        self._wm = t
        heap = self._heap
        if not heap or heap[0][0] > t:
            return []
        out: list[Finding] = []
        while heap and heap[0][0] <= t:
            due, hid = heapq.heappop(heap)
            home = self._homes.get(hid)
            if home is None or due != home.sched:
                continue  # an early entry superseded by a rescheduling
            self._run(home, t, out)
            if t > home.clock:
                home.clock = t
        return out

    def _next_due(self, home: Home) -> float:
        p = home.params
        due = INF
        if home.rollover_at <= 0:
            self._start_days(home, max(home.clock, home.last_activity))
        if home.rollover_at > 0 and (home.profile is not None or p.anomaly):
            due = home.rollover_at
        if p.morning and home.morning_at > 0:
            due = min(due, home.morning_at)
        if home.leave_at > 0:
            due = min(due, home.leave_at + (p.night_confirm if home.leave_night else p.away_confirm))
        if home.away > 0:
            if p.not_returned and home.away_fired != home.away:
                due = min(due, home.away_due)
        elif (
            p.inactivity
            and p.again_at_max
            and home.last_activity > 0
            and home.silence_alerted == home.last_activity
            and home.cap_alerted != home.last_activity
        ):
            home.cap_due = home.last_activity + self._cap(home, home.last_activity)[0]
            due = min(due, home.cap_due)
        elif p.inactivity and home.last_activity > 0 and home.silence_alerted != home.last_activity:
            armed = home.since_alert >= p.rearm_events
            if home.inact_for != home.last_activity or home.inact_armed != armed:
                home.inact_armed = armed
                if armed:
                    home.inact_due = self._inactivity_due(home, home.last_activity)
                else:
                    # Not re-armed since the last silence alert (a stray event or two): the silence
                    # is still watched, with the safety cap of the day part it began in -- a fall
                    # right after a few steps must not go unseen until the next alert.
                    home.inact_due = home.last_activity + self._cap(home, home.last_activity)[0]
                home.inact_for = home.last_activity
            due = min(due, home.inact_due)
        for dev in home.devices.values():
            if p.door_left_open and dev.open_at > 0 and dev.open_fired != dev.open_at:
                due = min(due, dev.open_at + p.door_open_limit)
            if p.offline and dev.heartbeat_s and dev.last_seen > 0 and dev.offline_fired != dev.last_seen:
                due = min(due, dev.last_seen + p.missed_intervals * dev.heartbeat_s)
        return due

    def _start_days(self, home: Home, t: float) -> None:
        if t <= 0:
            return
        p, tz = home.params, home.tz
        home.rollover_at = _next_local(tz, t, p.rollover_min)
        home.activity_day_start = home.rollover_at - 86400
        home.night_from = _next_local(tz, home.activity_day_start, p.night_part_start)
        home.wake_from = _next_local(tz, t, p.wake_earliest)
        self._set_morning(home, t)

    def _set_morning(self, home: Home, t: float) -> None:
        p = home.params
        wake = p.wake_min
        prof = home.profile
        if prof is not None and prof.days >= p.warmup_days and prof.wake_usual >= 0:
            wake = prof.wake_usual
        elif p.wake_learned_only and prof is not None:
            # No usual wake time yet: the night's inactivity threshold watches the morning alone.
            home.morning_at = home.morning_from = UNSET
            return
        deadline = min(wake + p.wake_margin // 60, 1439)
        home.morning_at = _next_local(home.tz, t, deadline)
        home.morning_from = _at_local(home.tz, _local(home.tz, home.morning_at).date(), p.wake_earliest)

    def _run(self, home: Home, now: float, out: list[Finding]) -> None:
        """Fire this home's timers due by ``now``, in time order, then reschedule it."""
        due = INF
        for _ in range(1000):
            due = self._next_due(home)
            if due > now:
                break
            self._fire(home, due, out)
        else:
            due = self._next_due(home)
        home.sched = INF
        self._touch(home, due)  # the state is unchanged since ``due`` was computed

    def _fire(self, home: Home, due: float, out: list[Finding]) -> None:
        p = home.params
        if home.leave_at > 0 and due == home.leave_at + (
            p.night_confirm if home.leave_night else p.away_confirm
        ):
            self._leave(home, due, out)
        elif home.away > 0 and due == home.away_due and home.away_fired != home.away:
            home.away_fired = home.away
            left = _local(home.tz, home.away)
            limit, source = self.away_limit(home, p.part(left.hour * 60 + left.minute))
            if due - home.away < limit - 1:
                by = f"{p.return_by // 60:02d}:{p.return_by % 60:02d}"
                limit, source = due - home.away, f"still out at {by}"
            out.append(
                self._finding(
                    home,
                    Rule.NOT_RETURNED,
                    due,
                    f"away@{_iso(home.away)}",
                    None,
                    {
                        "left_at": _iso(home.away),
                        "away_for_s": round(due - home.away),
                        "threshold_s": round(limit),
                        "threshold_source": source,
                        "door_id": home.leave_door,
                        "local_time": _local(home.tz, due).strftime("%H:%M"),
                    },
                )
            )
        elif (
            home.away <= 0
            and due == home.inact_due
            and home.inact_for == home.last_activity
            and home.silence_alerted != home.last_activity
        ):
            self._inactivity(home, due, out)
        elif (
            home.away <= 0
            and due == home.cap_due
            and home.silence_alerted == home.last_activity
            and home.cap_alerted != home.last_activity
        ):
            self._again_at_max(home, due, out)
        elif due == home.morning_at and p.morning:
            self._morning(home, due, out)
        elif due == home.rollover_at:
            self._rollover(home, due, out)
        else:
            self._device_timers(home, due, out)

    def _leave(self, home: Home, due: float, out: list[Finding]) -> None:
        home.away, home.leave_at = home.leave_at, UNSET
        home.last_leave = home.away
        home.away_fired = UNSET
        p = home.params
        m = _local(home.tz, home.away)
        part = p.part(m.hour * 60 + m.minute)
        allowed, source = self.away_limit(home, part)
        limit = home.away + allowed
        by = _next_local(home.tz, home.away, p.return_by)
        # "Still out at return_by" is the default's rule; a home whose outings are learned is
        # judged by how long its own outings from this part of the day last.
        if source == "default" and by - home.away >= 3600:
            limit = min(limit, by)
        home.away_due = limit
        prof = home.profile
        usual = (
            p.night_usual_after > 0
            and prof is not None
            and prof.days >= p.warmup_days
            and prof.night_outings >= p.night_usual_after
        )
        if home.leave_night and not usual:
            out.append(
                self._finding(
                    home,
                    Rule.NIGHT_DOOR,
                    due,
                    f"{home.leave_door}@{_iso(home.away)}",
                    home.leave_door,
                    {
                        "door_id": home.leave_door,
                        "closed_at": _iso(home.away),
                        "local_time": m.strftime("%H:%M"),
                        "no_motion_for_s": round(due - home.away),
                        "night_window": f"{p.night_start // 60:02d}:{p.night_start % 60:02d}-"
                        f"{p.night_end // 60:02d}:{p.night_end % 60:02d}",
                    },
                )
            )

    def away_limit(self, home: Home, part: int) -> tuple[float, str]:
        """How long the resident may stay out after leaving in day ``part``, and why."""
        p, prof = home.params, home.profile
        if prof is not None and prof.days >= p.warmup_days and prof.away_thr[part] > 0:
            learned = float(prof.away_thr[part])
            lo, hi = p.away_min[part], p.away_max[part]
            if learned < lo:
                return float(lo), "learned, raised to the minimum"
            if learned > hi:
                return float(hi), "learned, lowered to the maximum"
            return learned, "learned"
        return float(p.away_limit[part]), "default"

    def _learned(self, home: Home) -> bool:
        prof = home.profile
        return prof is not None and prof.days >= home.params.warmup_days

    def threshold_at(self, home: Home, t: float) -> tuple[float, str, str]:
        """The default threshold in force at ``t``, why, and the day part (before warm-up)."""
        p = home.params
        m = _local(home.tz, t)
        part = p.part(m.hour * 60 + m.minute)
        return self._bounded(
            float(p.inact_default[part]), "default", p.inact_min[part], p.inact_max[part], part
        )

    def learned_threshold(self, home: Home, t0: float) -> tuple[float, str, str]:
        """The learned threshold of a silence that began at ``t0``, why, and the day part."""
        return self._learned_threshold(home, t0)[:3]

    def _learned_threshold(self, home: Home, t0: float) -> tuple[float, str, str, str]:
        """The threshold of a silence that began at ``t0``: how long this home's silences that begin
        around that hour (after a sign of life in the same place, where that history is rich enough)
        last, after warm-up, bounded by the day part's min and max."""
        p, prof = home.params, home.profile
        assert prof is not None
        m = _local(home.tz, t0)
        part = p.part(m.hour * 60 + m.minute)
        base, by = float(prof.thr[m.hour]), "hour"
        if p.by_location and t0 == home.last_activity and home.last_cell >= 0:
            room = prof.room_threshold(home.last_cell // 24, m.hour)
            if room > 0:
                base, by = room, "place and hour"
            else:
                by = "hour (this place seen too rarely at this hour)"
        return (*self._bounded(base, "learned", p.inact_min[part], p.inact_max[part], part), by)

    @staticmethod
    def _bounded(base: float, source: str, lo: float, hi: float, part: int) -> tuple[float, str, str]:
        if base < lo:
            return float(lo), f"{source}, raised to the minimum", DAY_PARTS[part]
        if base > hi:
            return float(hi), f"{source}, lowered to the maximum", DAY_PARTS[part]
        return base, source, DAY_PARTS[part]

    def _inactivity_due(self, home: Home, t0: float) -> float:
        """The first instant when the silence since ``t0`` exceeds the threshold then in force."""
        if self._learned(home):
            return t0 + self.learned_threshold(home, t0)[0]
        tz = home.tz
        start = _local(tz, t0)
        offset = start.utcoffset()
        # Walk local time with the offset of t0 (fast); re-walk exactly if a DST change is crossed.
        due = self._walk(
            home, t0, start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
        )
        if due < INF and _local(tz, due).utcoffset() != offset:
            return self._walk_exact(home, t0)
        return due

    def _walk(self, home: Home, t0: float, local_s: float) -> float:
        """Before warm-up a silence is judged by the day part it has reached (local segments)."""
        p = home.params
        thr = p.seg_default
        i = p.seg_of_minute[int(local_s // 60) % 1440]
        # "longer": never less than the threshold of the part the silence began in.
        floor = thr[i] if p.inact_by_start else 0.0
        day_start = t0 - local_s
        seg_end, n = p.seg_end, len(thr)
        s = t0
        for _ in range(400):
            end = day_start + seg_end[i] * 60
            cand = t0 + max(thr[i], floor)
            if cand < s:
                cand = s
            if cand < end:
                return cand
            s = end
            i += 1
            if i == n:
                i = 0
                day_start += 86400
        return INF

    def _walk_exact(self, home: Home, t0: float) -> float:
        tz = home.tz
        floor = self.threshold_at(home, t0)[0] if home.params.inact_by_start else 0.0
        s = t0
        for _ in range(400):
            m = _local(tz, s)
            minute = m.hour * 60 + m.minute
            into = minute * 60 + m.second + m.microsecond / 1e6
            seg_end = s + (home.params.next_boundary(minute) * 60 - into)
            if seg_end <= s:
                seg_end = s + 60
            thr, _, _ = self.threshold_at(home, s)
            cand = max(s, t0 + max(thr, floor))
            if cand < seg_end:
                return cand
            s = seg_end
        return INF

    def _cap(self, home: Home, t0: float) -> tuple[float, str]:
        """The safety cap (inactivity ``max``) of the day part a silence began in, and that part."""
        p = home.params
        m = _local(home.tz, t0)
        part = p.part(m.hour * 60 + m.minute)
        return float(p.inact_max[part]), DAY_PARTS[part]

    def _inactivity(self, home: Home, due: float, out: list[Finding]) -> None:
        la = home.last_activity
        armed = home.since_alert >= home.params.rearm_events
        signs = home.since_alert
        home.silence_alerted = la
        home.since_alert = 0
        home.cap_due = INF
        cap, cap_part = self._cap(home, la)
        if not armed:
            thr, part = cap, cap_part
            source = f"safety cap: only {signs} sign(s) of life since the last silence alert"
            by = "day part cap"
        elif self._learned(home):
            thr, source, part, by = self._learned_threshold(home, la)
        else:
            thr, source, part = self.threshold_at(home, due)
            if home.params.inact_by_start:
                began = self.threshold_at(home, la)
                if began[0] > thr:
                    thr, source, part = began[0], f"{began[1]}, of the day part it began in", began[2]
            by = "day part"
        if due - la >= cap - 1:
            home.cap_alerted = la  # alerted at the max already: no second alert for this silence
        out.append(self._silence_finding(home, due, "inactivity", thr, source, part, by))

    def _silence_finding(
        self, home: Home, due: float, kind: str, thr: float, source: str, part: str, by: str
    ) -> Finding:
        """An inactivity finding for the silence since the last sign of life, with its evidence."""
        la = home.last_activity
        where = LOCATIONS[home.last_cell // 24] if home.last_cell >= 0 else "unknown"
        return self._finding(
            home,
            Rule.INACTIVITY,
            due,
            f"{kind}@{_iso(la)}",
            None,
            {
                "last_activity": _iso(la),
                "silent_for_s": round(due - la),
                "threshold_s": round(thr),
                "threshold_source": source,
                "day_part": part,
                "local_time": _local(home.tz, due).strftime("%H:%M"),
                "last_location": where,
                "threshold_by": by,
            },
        )

    def _again_at_max(self, home: Home, due: float, out: list[Finding]) -> None:
        """The silence already alerted on goes on to its day part's max: alert again (the resident
        may have been fine when called, and fallen since; or nobody answered the first time)."""
        la = home.last_activity
        home.cap_alerted = la
        home.cap_due = INF
        cap, part = self._cap(home, la)
        source = "max of the day part: the silence went on after its first alert"
        out.append(
            self._silence_finding(
                home, due, "inactivity-max", cap, source, part, "day part max, second alert"
            )
        )

    def _morning(self, home: Home, due: float, out: list[Finding]) -> None:
        la = home.last_activity
        quiet = 0 < la < home.morning_from
        if (
            quiet
            and home.away <= 0
            and home.leave_at <= 0
            and home.silence_alerted != la
            and home.since_alert >= home.params.rearm_events
        ):
            home.silence_alerted = la
            home.since_alert = 0
            home.cap_due = INF
            if due - la >= self._cap(home, la)[0] - 1:
                home.cap_alerted = la  # already at the day part's max: no second alert for it
            prof = home.profile
            learned = prof is not None and prof.days >= home.params.warmup_days and prof.wake_usual >= 0
            local = _local(home.tz, due)
            out.append(
                self._finding(
                    home,
                    Rule.NO_MORNING_ACTIVITY,
                    due,
                    f"no_morning_activity@{local.date().isoformat()}",
                    None,
                    {
                        "last_activity": _iso(la),
                        "deadline_local": local.strftime("%H:%M"),
                        "wake_source": "learned" if learned else "default",
                        "margin_s": home.params.wake_margin,
                    },
                )
            )
        self._set_morning(home, due)

    def _rollover(self, home: Home, due: float, out: list[Finding]) -> None:
        """End of an activity day: judge the day against the routine, then learn from it."""
        p, prof = home.params, home.profile
        if home.away > 0:
            home.away_secs += due - max(home.away, home.activity_day_start)
        mostly_home = home.away_secs < 43200
        local_day = _local(home.tz, home.activity_day_start + 3600).date().isoformat()
        if p.anomaly and prof is not None and prof.days >= max(p.warmup_days, 3):
            if (
                prof.night_usual >= 0
                and home.night_count >= p.restless_min_events
                and home.night_count > p.restless_factor * max(prof.night_usual, 1.0)
            ):
                out.append(
                    self._finding(
                        home,
                        Rule.ROUTINE_ANOMALY,
                        due,
                        f"restless_night@{local_day}",
                        None,
                        {
                            "kind": "restless_night",
                            "night_events": home.night_count,
                            "usual_night_events": prof.night_usual,
                            "factor": p.restless_factor,
                        },
                    )
                )
            if (
                mostly_home
                and prof.day_usual >= 20
                and home.day_count < p.low_activity_ratio * prof.day_usual
            ):
                out.append(
                    self._finding(
                        home,
                        Rule.ROUTINE_ANOMALY,
                        due,
                        f"low_activity@{local_day}",
                        None,
                        {
                            "kind": "low_activity",
                            "events": home.day_count,
                            "usual_events": prof.day_usual,
                            "ratio": p.low_activity_ratio,
                        },
                    )
                )
        if prof is not None:
            bed = -1
            if home.bed_start > 0:
                b = _local(home.tz, home.bed_start)
                bed = b.hour * 60 + b.minute
            prof.end_day(
                p,
                wake=home.wake_today,
                bed=bed,
                day_count=home.day_count if mostly_home else -1,
                night_count=home.night_count if mostly_home else -1,
            )
            home.inact_for = _NAN
        home.day_count = home.night_count = 0
        home.away_secs = 0.0
        home.wake_today, home.wake_gap = -1, 0.0
        home.bed_gap, home.bed_start = 0.0, UNSET
        home.rollover_at = _next_local(home.tz, due, p.rollover_min)
        home.activity_day_start = due
        home.night_from = _next_local(home.tz, due, p.night_part_start)
        if home.morning_at <= due:
            self._set_morning(home, due)

    def _device_timers(self, home: Home, due: float, out: list[Finding]) -> None:
        p = home.params
        for dev_id, dev in home.devices.items():
            if (
                p.door_left_open
                and dev.open_at > 0
                and dev.open_fired != dev.open_at
                and dev.open_at + p.door_open_limit <= due
            ):
                dev.open_fired = dev.open_at
                out.append(
                    self._finding(
                        home,
                        Rule.DOOR_LEFT_OPEN,
                        due,
                        f"{dev_id}@{_iso(dev.open_at)}",
                        dev_id,
                        {
                            "door_id": dev_id,
                            "opened_at": _iso(dev.open_at),
                            "open_for_s": round(due - dev.open_at),
                            "threshold_s": p.door_open_limit,
                        },
                    )
                )
            if (
                p.offline
                and dev.heartbeat_s
                and dev.last_seen > 0
                and dev.offline_fired != dev.last_seen
                and dev.last_seen + p.missed_intervals * dev.heartbeat_s <= due
            ):
                dev.offline_fired = dev.last_seen
                out.append(
                    self._finding(
                        home,
                        Rule.DEVICE_OFFLINE,
                        due,
                        f"{dev_id}@{_iso(dev.last_seen)}",
                        dev_id,
                        {
                            "device_id": dev_id,
                            "last_seen": _iso(dev.last_seen),
                            "heartbeat_s": dev.heartbeat_s,
                            "missed_intervals": p.missed_intervals,
                            "kind": dev.kind.value,
                        },
                    )
                )

    # ---- output --------------------------------------------------------------------------------

    @staticmethod
    def _finding(
        home: Home, rule: Rule, t: float, key: str, device_id: str | None, detail: dict[str, Any]
    ) -> Finding:
        return Finding(
            household_id=home.hid,
            rule=rule,
            severity=RULE_SEVERITY[rule],
            at=datetime.fromtimestamp(t, UTC),
            key=key,
            device_id=device_id,
            detail=detail,
        )

    # ---- restart -------------------------------------------------------------------------------

    def snapshot(self, household_id: str) -> dict[str, Any]:
        """The home's state as JSON-serialisable data (store it; ``restore`` it after a restart)."""
        home = self._homes.get(household_id)
        if home is None:
            raise KeyError(household_id)
        data = home.to_json()
        data["version"] = 3
        return data

    def restore(self, household_id: str, data: dict[str, Any]) -> None:
        """Load a snapshot into a configured home; its timers are rescheduled from the state.

        Timers due while the service was down fire at the next ``advance``, once, with ``at`` set
        to when they were due.
        """
        home = self._homes.get(household_id)
        if home is None:
            raise KeyError(f"{household_id}: configure the household before restoring it")
        version = data.get("version")
        if version in (1, 2):
            # Older profile formats are gone (silences by hour only): keep the rest, learn anew.
            data = {**data, "profile": None}
        elif version != 3:
            raise ValueError(f"{household_id}: unknown snapshot version {version!r}")
        home.load(data)
        self._reschedule(home)


__all__ = ["DeviceKind", "Engine"]
