"""The engine: per-household state, fed observations, advanced by a watermark.

Pure and on event time: no I/O, no wall clock, no file read (the caller gives the pack). The rules
live in ``engine/rules/``, one module per rule or family; the core keeps the homes, their signs of
life and days, the configuration, the one timer heap and the snapshots. Timers are derived from
state and kept in one heap of (due, household) entries that may be early but never late; popping
an early entry just re-evaluates that home. Every finding's key is derived from the evidence (the
silence's last activity, the door's opening time, ...), so a replay or a restart raises the same
keys again and the dispatch layer stores each once.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from anju.domain import CheckinAnswer, DeviceKind, EventName
from anju.engine.days import DayEnd, start_days
from anju.engine.learn import LearnedRoutine
from anju.engine.localtime import INF, UNSET, local
from anju.engine.model import CheckinReply, Finding, HouseholdSpec, Observation
from anju.engine.pack import RulePack
from anju.engine.params import compile_pack
from anju.engine.prior import RoutinePrior
from anju.engine.rules import DAY_END_AT, RULES, Config, Rule
from anju.engine.state import Dev, Home
from anju.kinds import ENDS_AWAY, SIGNS_OF_LIFE

#: Silences shorter than this are ordinary life and are not learned from.
MIN_SILENCE_S = 300.0
#: The snapshot form written by ``snapshot`` (5: check-ins, held silences and the warm-up prior;
#: 4: rules by name; 3: one flat table of every field; all still restored).
SNAPSHOT_VERSION = 5
#: Motion ends "away" (the kind table says so); the hot path tests it by identity, before any lookup.
_MOTION = EventName.MOTION if EventName.MOTION in ENDS_AWAY else None
#: Events that are no sign of life of any kind: liveness, availability, tampering.
_QUIET = frozenset(EventName) - SIGNS_OF_LIFE


class Engine:
    """Evaluates every rule of a pack on event time, per household."""

    def __init__(
        self, pack: RulePack, *, default_timezone: str = "Asia/Shanghai", prior: RoutinePrior | None = None
    ) -> None:
        self.pack = pack
        #: The center's prior new homes start from (learned from its other homes; None: the pack's
        #: defaults until warm-up is over).
        self.prior = prior
        self.default_timezone = default_timezone
        self._base = self._compile({})
        self._configs: dict[str, Config] = {"": self._base}
        self._homes: dict[str, Home] = {}
        self._heap: list[tuple[float, str]] = []
        self._wm = UNSET
        self._tz_cache: dict[str, ZoneInfo] = {}

    @property
    def watermark(self) -> datetime | None:
        """How far event time has been advanced (None before the first ``advance``)."""
        return datetime.fromtimestamp(self._wm, UTC) if self._wm > 0 else None

    # ---- configuration -------------------------------------------------------------------------

    def _compile(self, overrides: dict[str, Any]) -> Config:
        pack = self.pack.with_overrides(overrides)
        rules: list[Rule] = [rule(pack, overrides) for rule in RULES]
        rules.insert(DAY_END_AT, DayEnd(pack, overrides))
        for rule in rules:
            rule.bind(self._touch)
        return Config.build(compile_pack(pack), tuple(rules), _QUIET)

    def _config_for(self, overrides: dict[str, Any]) -> Config:
        if not overrides:
            return self._base
        key = json.dumps(overrides, sort_keys=True, default=str)
        cfg = self._configs.get(key)
        if cfg is None:
            cfg = self._configs[key] = self._compile(overrides)
        return cfg

    def configure(self, households: Iterable[HouseholdSpec]) -> None:
        """Add or update homes (devices, timezone, overrides); state of known devices is kept.

        Raises ValueError for an unknown timezone or invalid overrides (nothing is half-applied
        for that home).
        """
        for spec in households:
            tz = ZoneInfo(spec.timezone or self.default_timezone)
            cfg = self._config_for(spec.overrides)
            home = self._homes.get(spec.household_id)
            if home is None:
                home = Home(spec.household_id, tz, cfg)
                self._homes[spec.household_id] = home
                if self._wm > 0:
                    # Silence is counted from when monitoring began, not from the epoch.
                    home.last_activity = self._wm
            else:
                home.tz = tz
                if cfg.params.learning and home.profile is None:
                    home.profile = LearnedRoutine()
                home.cfg, home.params = cfg, cfg.params
            prof = home.profile
            if self.prior is not None and prof is not None and prof.days == 0 and prof.prior is None:
                # A new home: the center's prior, narrowed by its resident's own intake answers.
                prof.seed(self.prior.narrow(spec.intake, cfg.params), cfg.params)
            devices: dict[str, Dev] = {}
            for d in spec.devices:
                dev = home.devices.get(d.device_id)
                if dev is None or dev.kind != d.kind:
                    dev = Dev(d.kind, d.heartbeat_s, d.battery_low, d.location)
                else:
                    dev.heartbeat_s, dev.battery_low = d.heartbeat_s, d.battery_low
                    dev.loc = Dev(d.kind, None, None, d.location).loc
                devices[d.device_id] = dev
            gone = {d for d, dev in home.devices.items() if devices.get(d) is not dev}
            home.devices = devices
            if gone:
                for rule in cfg.rules:
                    rule.forget(home, gone)
            for reconfigured in cfg.reconfigures:
                reconfigured(home)
            self._reschedule(home)

    def household_ids(self) -> list[str]:
        return list(self._homes)

    def offline_devices(self, household_id: str) -> list[str]:
        """Devices currently declared offline (monitoring of the home is degraded while any is)."""
        home = self._homes.get(household_id)
        if home is None:
            return []
        return [d for rule in home.cfg.rules for d in rule.offline_devices(home)]

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
            start_days(home, t)
        dev = home.devices.get(device_id)
        if dev is None:
            # Heard but not configured (replay without a fleet file): learn it, never offline.
            dev = home.devices[device_id] = Dev(kind, None, None)
        cfg = home.cfg
        if battery is not None:
            for reading in cfg.readings:
                reading(home, dev, device_id, battery, t, out)
        if dev.heartbeat_s is not None:
            for heard in cfg.hearers:
                heard(home, dev, device_id, event, t)
        # Motion first, by identity, not a dict lookup: an Enum's hash is a Python-level call.
        route = None if event is _MOTION else cfg.routes[event]
        if route is None or route.ends_away:
            if t >= home.last_activity:  # else late: older than what is known; it changes no state
                if home.away > 0 or home.leave_at > 0:
                    # Motion indoors (or lying down in bed) means home again.
                    for came_home in cfg.homecomers:
                        came_home(home, t)
                self._activity(home, t, dev.loc)
            return out
        for judge in route.instant:
            judge(home, dev, device_id, kind, event, t, out)
        if not route.life or t < home.last_activity:
            return out  # no sign of life, or late: older than what is known; it changes no state
        for tell in route.state:
            tell(home, dev, device_id, kind, event, t, out)
        self._activity(home, t, dev.loc)
        return out

    def _activity(self, home: Home, t: float, loc: int) -> None:
        """Bookkeeping for a sign of life at ``t`` (not older than the last one) at location ``loc``."""
        la = home.last_activity
        # Each sign of life moves the silence's deadline to at least ``life_floor`` from now; an
        # early heap entry only re-evaluates the home, so one entry per floor interval suffices.
        due = t + home.cfg.life_floor
        if due < home.sched:
            home.sched = due
            heapq.heappush(self._heap, (due, home.hid))
        gap = t - la
        if gap > 0 and la > 0 and home.away <= 0 and home.profile is not None:
            # Every gap, short ones too: they show the resident was there at that hour.
            if home.last_cell >= 0 and la != home.hold:  # a held silence waits for its outcome
                home.profile.add_silence(home.last_cell, gap)
            if gap >= MIN_SILENCE_S and la >= home.night_from - 4 * 3600 and gap > home.bed_gap:
                home.bed_gap, home.bed_start = gap, la
        if t > la:
            home.since_alert += 1  # a redelivered event (same instant) is not one more sign of life
        home.last_activity = t
        # The local hour, cached per home for the hour around it (the hot path).
        start = home.hour_at
        if not start <= t < start + 3600.0:
            m = local(home.tz, t)
            home.hour_at = t - (m.minute * 60 + m.second + m.microsecond / 1e6)
            home.hour_cell = m.hour
        home.last_cell = loc * 24 + home.hour_cell
        home.day_count += 1
        if t >= home.night_from:
            home.night_count += 1
        if gap >= 3600 and la > 0 and home.away <= 0 and gap > home.wake_gap:
            # Getting up: the end of the longest silence that ends in the morning window (a trip
            # to the toilet at 05:10 followed by two more hours of sleep is not the wake time).
            m = local(home.tz, t)
            minute = m.hour * 60 + m.minute
            p = home.params
            if p.wake_earliest <= minute <= p.wake_latest + p.wake_margin // 60:
                home.wake_today, home.wake_gap = minute, gap

    # ---- check-ins -----------------------------------------------------------------------------

    def reply(self, reply: CheckinReply) -> list[Finding]:
        """The resident's answer to a check-in (a ``type=checkin`` row); returns what it raised."""
        return self.answer(reply.household_id, reply.answer, reply.at.timestamp())

    def answer(self, household_id: str, answer: CheckinAnswer, t: float) -> list[Finding]:
        """``reply`` with event time as epoch seconds: ``ok`` closes the check-in under way (and
        teaches the home), ``help`` raises critical, ``no_answer`` the rule's high, at once."""
        home = self._homes.get(household_id)
        if home is None:
            home = self._adopt(household_id)
        out: list[Finding] = []
        if t > home.clock:
            if t >= home.sched:
                self._run(home, t, out)
            home.clock = t
        for answered in home.cfg.answerers:
            answered(home, answer, t, out)
        self._reschedule(home)
        return out

    def learn_outcome(self, household_id: str, rule: str, at: datetime, outcome: str) -> bool:
        """An operator closed the finding of ``rule`` raised at ``at`` with ``outcome``.

        ``false_alarm`` and ``resident_well`` teach the home that this silence (place, hour) or
        outing was ordinary; ``taken_to_hospital``, ``assisted_at_home`` and ``deceased`` make sure
        it is never learned from. False when the engine does not know the finding (too old, or
        check-ins are off for the home).
        """
        home = self._homes.get(household_id)
        if home is None:
            return False
        known = any(learn(home, str(rule), at.timestamp(), str(outcome)) for learn in home.cfg.outcomes)
        if known:
            self._reschedule(home)
        return known

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
        if home.rollover_at <= 0:
            start_days(home, max(home.clock, home.last_activity))
        due = INF
        for next_due in home.cfg.dues:
            d = next_due(home)
            if d < due:
                due = d
        return due

    def _run(self, home: Home, now: float, out: list[Finding]) -> None:
        """Fire this home's timers due by ``now``, in time order, then reschedule it."""
        due = INF
        fires, gate = home.cfg.fires, home.cfg.gate
        for _ in range(1000):
            due = self._next_due(home)
            if due > now:
                break
            # The first rule whose timer this is fires (the rules' order breaks ties).
            n = len(out)
            for fire in fires:
                if fire(home, due, out):
                    if len(out) > n and gate is not None:
                        gate(home, out, n, due)  # a suspicion is asked about before anyone is paged
                    break
        else:
            due = self._next_due(home)
        home.sched = INF
        self._touch(home, due)  # the state is unchanged since ``due`` was computed

    # ---- restart -------------------------------------------------------------------------------

    def snapshot(self, household_id: str) -> dict[str, Any]:
        """The home's state as JSON-serialisable data (store it; ``restore`` it after a restart)."""
        home = self._homes.get(household_id)
        if home is None:
            raise KeyError(household_id)
        data = home.to_json()
        rules = ((rule.name, rule.dump(home)) for rule in home.cfg.rules if rule.state is not None)
        data["rules"] = {name: dumped for name, dumped in rules if dumped}  # none: nothing under way
        data["version"] = SNAPSHOT_VERSION
        return data

    def restore(self, household_id: str, data: dict[str, Any]) -> None:
        """Load a snapshot into a configured home; its timers are rescheduled from the state.

        Timers due while the service was down fire at the next ``advance``, once, with ``at`` set
        to when they were due. Snapshots of versions 1-4 are read too (4 has no check-ins under way).
        """
        home = self._homes.get(household_id)
        if home is None:
            raise KeyError(f"{household_id}: configure the household before restoring it")
        version = data.get("version")
        if version in (1, 2):
            # Older profile formats are gone (silences by hour only): keep the rest, learn anew.
            data = {**data, "profile": None}
        elif version not in (3, 4, SNAPSHOT_VERSION):
            raise ValueError(f"{household_id}: unknown snapshot version {version!r}")
        home.load(data)
        for rule in home.cfg.rules:
            if rule.state is None:
                continue
            if version != 3:
                rule.load((data.get("rules") or {}).get(rule.name) or {}, home)
            else:
                rule.load_legacy(data, home)
        self._reschedule(home)


__all__ = ["DeviceKind", "Engine"]
