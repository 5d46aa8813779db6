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
from anju.engine.model import Finding, HouseholdSpec, Observation
from anju.engine.pack import DAY_PARTS, RulePack, default_pack_path, load_pack
from anju.engine.params import Params, compile_pack
from anju.engine.state import INF, UNSET, Dev, Home

#: Silences shorter than this are ordinary life and are not learned from.
MIN_SILENCE_S = 300.0
_NAN = float("nan")
_MOTION, _OPEN, _CLOSE = EventName.MOTION, EventName.OPEN, EventName.CLOSE
_PRESSES = frozenset({EventName.PRESS, EventName.LONG_PRESS})
_LIVENESS = frozenset({EventName.HEARTBEAT, EventName.ONLINE})


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
        self.watermark: datetime | None = None

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
                    from anju.engine.learn import Profile

                    home.profile = Profile()
                home.params = params
            devices: dict[str, Dev] = {}
            for d in spec.devices:
                low = params.battery_threshold if params.battery_overridden else d.battery_low
                dev = home.devices.get(d.device_id)
                if dev is None or dev.kind != d.kind:
                    dev = Dev(d.kind, d.heartbeat_s, low)
                else:
                    dev.heartbeat_s, dev.battery_low = d.heartbeat_s, low
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

    def _adopt(self, obs: Observation) -> Home:
        """A household never configured: monitored with the pack defaults and its own devices."""
        home = Home(obs.household_id, ZoneInfo(self.default_timezone), self._base)
        self._homes[obs.household_id] = home
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
        home = self._homes.get(obs.household_id)
        if home is None:
            home = self._adopt(obs)
        t = obs.at.timestamp()
        out: list[Finding] = []
        if t > home.clock:
            if t >= home.sched:
                self._run(home, t, out)
            home.clock = t
        if home.rollover_at <= 0:
            self._start_days(home, t)
        dev = home.devices.get(obs.device_id)
        if dev is None:
            # Heard but not configured (replay without a fleet file): learn it, never offline.
            dev = Dev(obs.kind, None, home.params.battery_threshold)
            home.devices[obs.device_id] = dev
        event = obs.event
        p = home.params
        if obs.battery is not None and p.low_battery:
            self._battery(home, obs, dev, t, out)
        if dev.heartbeat_s is not None and t > dev.last_seen and (dev.last_seen > 0 or event in _LIVENESS):
            # Liveness is tracked from the first heartbeat on; any later message counts.
            rearm = dev.last_seen <= 0 or dev.offline_fired == dev.last_seen
            dev.last_seen = t
            if rearm:
                self._touch(home, t + p.missed_intervals * dev.heartbeat_s)
        if event in _LIVENESS:
            return out
        if event is EventName.OFFLINE:
            # The gateway says so (Zigbee2MQTT availability): no need to wait for missed heartbeats.
            if p.offline and self._first(dev, "offline", t):
                if t > dev.last_seen:
                    dev.offline_fired = dev.last_seen = t
                detail = {"device_id": obs.device_id, "reported_by": "gateway availability"}
                key = f"{obs.device_id}@{_iso(t)}:gateway"
                out.append(self._finding(home, Rule.DEVICE_OFFLINE, t, key, obs.device_id, detail))
            return out
        if event is EventName.TAMPER:
            if p.tamper and self._first(dev, "tamper", t):
                detail = {"device_id": obs.device_id, "kind": obs.kind.value}
                out.append(
                    self._finding(home, Rule.TAMPER, t, f"{obs.device_id}@{_iso(t)}", obs.device_id, detail)
                )
            return out
        if event in _PRESSES and self._first(dev, "button", t):
            detail = {"event": event.value, "device_id": obs.device_id}
            out.append(
                self._finding(home, Rule.BUTTON, t, f"{obs.device_id}@{_iso(t)}", obs.device_id, detail)
            )
        if t < home.last_activity:
            return out  # late: older than what is known; it changes no state
        if event is _MOTION:
            if home.away > 0 or home.leave_at > 0:
                self._come_home(home, t)
        elif event is _OPEN:
            if t != dev.open_at and t != dev.open_fired:  # a redelivered open is the same opening
                dev.open_at, dev.open_fired = t, UNSET
            if p.door_left_open:
                self._touch(home, t + p.door_open_limit)
        elif event is _CLOSE:
            dev.open_at = UNSET
            if home.away <= 0:
                m = _local(home.tz, t)
                home.leave_at, home.leave_door = t, obs.device_id
                home.leave_night = p.night_door and p.in_night_window(m.hour * 60 + m.minute)
                self._touch(home, t + (p.night_confirm if home.leave_night else p.away_confirm))
        self._activity(home, t)
        return out

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
            # The silence while out is no silence at home: it is neither learned nor alerted.
            home.last_activity = t
        home.away, home.away_due, home.leave_at = UNSET, INF, UNSET
        self._touch(home, t + min(home.params.inact_min))

    def _activity(self, home: Home, t: float) -> None:
        """Bookkeeping for a sign of life at ``t`` (not older than the last one)."""
        la = home.last_activity
        if la <= 0 or home.silence_alerted == la:
            self._touch(home, t + min(home.params.inact_min))
        gap = t - la
        if gap >= MIN_SILENCE_S and la > 0 and home.away <= 0 and home.profile is not None:
            start = _local(home.tz, la)
            home.profile.add_silence(start.hour, start.minute * 60 + start.second, gap)
            if la >= home.night_from - 4 * 3600 and gap > home.bed_gap:
                home.bed_gap, home.bed_start = gap, la
        home.last_activity = t
        home.day_count += 1
        if t >= home.night_from:
            home.night_count += 1
        if t >= home.wake_from and home.wake_from > 0 and home.away <= 0:
            m = _local(home.tz, t)
            home.wake_today = m.hour * 60 + m.minute
            home.wake_from = _next_local(home.tz, t, home.params.wake_earliest)

    def _battery(self, home: Home, obs: Observation, dev: Dev, t: float, out: list[Finding]) -> None:
        battery = obs.battery if obs.battery is not None else 100
        if battery < dev.battery_low:
            if dev.low_since <= 0 and self._first(dev, "low_battery", t):
                dev.low_since = t
                out.append(
                    self._finding(
                        home,
                        Rule.LOW_BATTERY,
                        t,
                        f"{obs.device_id}@{_iso(t)}",
                        obs.device_id,
                        {"device_id": obs.device_id, "battery": battery, "threshold": dev.battery_low},
                    )
                )
        elif battery >= dev.battery_low + 10:
            dev.low_since = UNSET  # a new battery: the next low reading is a new alert

    # ---- time ----------------------------------------------------------------------------------

    def advance(self, now: datetime) -> list[Finding]:
        """Move the watermark to ``now`` (never backwards) and fire every timer due by then."""
        t = now.timestamp()
        if t <= self._wm:
            return []
        self._wm = t
        self.watermark = now
        out: list[Finding] = []
        heap = self._heap
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
        elif p.inactivity and home.last_activity > 0 and home.silence_alerted != home.last_activity:
            if home.inact_for != home.last_activity:
                home.inact_due = self._inactivity_due(home, home.last_activity)
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
        deadline = min(wake + p.wake_margin // 60, 1439)
        home.morning_at = _next_local(home.tz, t, deadline)
        home.morning_from = _at_local(home.tz, _local(home.tz, home.morning_at).date(), p.wake_earliest)

    def _run(self, home: Home, now: float, out: list[Finding]) -> None:
        """Fire this home's timers due by ``now``, in time order, then reschedule it."""
        for _ in range(1000):
            due = self._next_due(home)
            if due > now:
                break
            self._fire(home, due, out)
        home.sched = INF
        self._touch(home, self._next_due(home))

    def _fire(self, home: Home, due: float, out: list[Finding]) -> None:
        p = home.params
        if home.leave_at > 0 and due == home.leave_at + (
            p.night_confirm if home.leave_night else p.away_confirm
        ):
            self._leave(home, due, out)
        elif home.away > 0 and due == home.away_due and home.away_fired != home.away:
            home.away_fired = home.away
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
        elif due == home.morning_at and p.morning:
            self._morning(home, due, out)
        elif due == home.rollover_at:
            self._rollover(home, due, out)
        else:
            self._device_timers(home, due, out)

    def _leave(self, home: Home, due: float, out: list[Finding]) -> None:
        home.away, home.leave_at = home.leave_at, UNSET
        home.away_fired = UNSET
        p = home.params
        m = _local(home.tz, home.away)
        part = p.part(m.hour * 60 + m.minute)
        limit = home.away + p.away_limit[part]
        by = _next_local(home.tz, home.away, p.return_by)
        home.away_due = min(limit, by) if by - home.away >= 3600 else limit
        if home.leave_night:
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

    def threshold_at(self, home: Home, t: float) -> tuple[float, str, str]:
        """The inactivity threshold in force at ``t``, why (learned or default), and the day part."""
        p = home.params
        m = _local(home.tz, t)
        minute = m.hour * 60 + m.minute
        part = p.part(minute)
        prof = home.profile
        base, source = float(p.inact_default[part]), "default"
        if prof is not None and prof.days >= p.warmup_days:
            learned = prof.thr[m.hour]
            if learned > 0:
                base, source = float(learned), "learned"
        lo, hi = p.inact_min[part], p.inact_max[part]
        if base < lo:
            base, source = float(lo), f"{source}, raised to the minimum"
        elif base > hi:
            base, source = float(hi), f"{source}, lowered to the maximum"
        return base, source, DAY_PARTS[part]

    def _inactivity_due(self, home: Home, t0: float) -> float:
        """The first instant when the silence since ``t0`` exceeds the threshold then in force."""
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
        p, prof = home.params, home.profile
        learned = prof.thr if prof is not None and prof.days >= p.warmup_days else None
        s, into = t0, local_s
        for _ in range(400):
            minute = int(into // 60) % 1440
            part = p.part_of_minute[minute]
            base = learned[minute // 60] if learned is not None else 0.0
            if base <= 0:
                base = p.inact_default[part]
            lo, hi = p.inact_min[part], p.inact_max[part]
            thr = lo if base < lo else hi if base > hi else base
            seg_end = s + (p.next_boundary(minute) * 60 - into % 86400)
            if seg_end <= s:
                seg_end = s + 60
            cand = t0 + thr
            if cand < s:
                cand = s
            if cand < seg_end:
                return cand
            into += seg_end - s
            s = seg_end
        return INF

    def _walk_exact(self, home: Home, t0: float) -> float:
        tz = home.tz
        s = t0
        for _ in range(400):
            m = _local(tz, s)
            minute = m.hour * 60 + m.minute
            into = minute * 60 + m.second + m.microsecond / 1e6
            seg_end = s + (home.params.next_boundary(minute) * 60 - into)
            if seg_end <= s:
                seg_end = s + 60
            thr, _, _ = self.threshold_at(home, s)
            cand = max(s, t0 + thr)
            if cand < seg_end:
                return cand
            s = seg_end
        return INF

    def _inactivity(self, home: Home, due: float, out: list[Finding]) -> None:
        home.silence_alerted = home.last_activity
        thr, source, part = self.threshold_at(home, due)
        out.append(
            self._finding(
                home,
                Rule.INACTIVITY,
                due,
                f"inactivity@{_iso(home.last_activity)}",
                None,
                {
                    "last_activity": _iso(home.last_activity),
                    "silent_for_s": round(due - home.last_activity),
                    "threshold_s": round(thr),
                    "threshold_source": source,
                    "day_part": part,
                    "local_time": _local(home.tz, due).strftime("%H:%M"),
                },
            )
        )

    def _morning(self, home: Home, due: float, out: list[Finding]) -> None:
        la = home.last_activity
        quiet = 0 < la < home.morning_from
        if quiet and home.away <= 0 and home.leave_at <= 0 and home.silence_alerted != la:
            home.silence_alerted = la
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
        home.wake_today = -1
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
        data["version"] = 1
        return data

    def restore(self, household_id: str, data: dict[str, Any]) -> None:
        """Load a snapshot into a configured home; its timers are rescheduled from the state.

        Timers due while the service was down fire at the next ``advance``, once, with ``at`` set
        to when they were due.
        """
        home = self._homes.get(household_id)
        if home is None:
            raise KeyError(f"{household_id}: configure the household before restoring it")
        if data.get("version") != 1:
            raise ValueError(f"{household_id}: unknown snapshot version {data.get('version')!r}")
        home.load(data)
        self._reschedule(home)


__all__ = ["DeviceKind", "Engine"]
