"""Devices as they behave in the field: heartbeats, battery drain, sequence numbers, device clocks
that drift and jump, lost, duplicated, late and malformed messages, and backlogs after a reconnect.
The messages themselves (topics, the two payload shapes, fault tags) are ``anju.simulator.messages``."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass

from anju.simulator.catalog import Faults
from anju.simulator.fleet import KIT, ZIGBEE, SimDevice, SimHousehold
from anju.simulator.messages import (
    BURST,
    CLEAR,
    CLOCK_JUMP,
    DUPLICATE,
    HEARTBEAT,
    LOST,
    MALFORMED,
    OFFLINE,
    ONLINE,
    REBOOT,
    REORDER,
    Message,
    formatter,
    malformed_body,
)
from anju.simulator.routine import DEAD, MOTION, Event

# The device layer's names for what it emits, importable with it (tests and benchmarks read them here).
__all__ = [
    "BURST",
    "CLOCK_JUMP",
    "DUPLICATE",
    "HEARTBEAT",
    "LOST",
    "MALFORMED",
    "REBOOT",
    "REORDER",
    "DeviceLayer",
    "Message",
    "formatter",
]

#: Zigbee2MQTT motion sensors report ``occupancy: false`` ~90 s after the last motion.
OCCUPANCY_CLEAR_S = 90.0
#: Zigbee2MQTT marks a battery device offline after 25 h of silence (its default).
Z2M_OFFLINE_AFTER_S = 25 * 3600.0
#: At the start, Zigbee2MQTT devices are announced online over this many seconds.
AVAILABILITY_SPREAD_S = 600.0
#: 2000-01-01T00:00Z, where a kit clock restarts after a power cut.
_Y2K = 946_684_800.0


@dataclass(slots=True)
class _DeviceState:
    dev: int
    device: SimDevice
    seq: int
    battery0: float
    drain_per_s: float
    t0: float
    drift: float
    rssi: int
    next_hb: float | None
    alive: bool = True
    jump: float = 0.0
    jump_from: float = float("inf")
    jump_until: float = float("-inf")
    outage_from: float = float("inf")
    outage_until: float = float("-inf")
    reboot_at: float = float("inf")
    clear_at: float | None = None
    burst_n: int = 0

    def battery(self, t: float) -> int:
        level = int(self.battery0 - self.drain_per_s * (t - self.t0) + 0.5)
        return 1 if level < 1 else 100 if level > 100 else level

    def clock(self, t: float) -> float:
        offset = self.drift * (t - self.t0)
        if self.jump_from <= t < self.jump_until:
            offset += self.jump
        return t + offset


class DeviceLayer:
    """Turns a household's physical events into the messages its devices publish."""

    def __init__(
        self,
        household: SimHousehold,
        *,
        seed: int,
        faults: Faults,
        start: float,
        end: float | None = None,
    ) -> None:
        self.household = household
        self.faults = faults
        self.start = start
        self.end = end
        self.seed = seed
        self.fmt = formatter(household.timezone)
        self.rng = random.Random(f"{seed}:{household.id}:delivery")
        rng = random.Random(f"{seed}:{household.id}:devices")
        self.states: list[_DeviceState] = []
        for i, d in enumerate(household.devices):
            hb = d.report_s
            self.states.append(
                _DeviceState(
                    dev=i,
                    device=d,
                    seq=rng.randrange(0, 5000),
                    battery0=rng.uniform(*faults.battery_start),
                    drain_per_s=rng.uniform(*faults.battery_drain_per_day) / 86400.0,
                    t0=start,
                    drift=rng.uniform(-faults.drift_ppm_max, faults.drift_ppm_max) * 1e-6,
                    rssi=rng.randrange(-88, -55),
                    next_hb=start + rng.uniform(0, hb) if hb else None,
                )
            )
        self._zigbee = household.protocol == ZIGBEE
        self._out: list[tuple[float, int, Message]] = []
        self._n = 0
        self._fault_day = -1
        self._next_hb = min((s.next_hb for s in self.states if s.next_hb is not None), default=float("inf"))
        self._next_due = float("-inf")

    def messages(self, physical: Iterator[Event]) -> Iterator[Message]:
        """Every message in the order it reaches the broker (lost ones included, marked)."""
        for s in self.states:
            if s.device.protocol == ZIGBEE:
                # The bridge reports each device online as it hears from it after (re)starting.
                at = self.start + self.rng.uniform(0.0, AVAILABILITY_SPREAD_S)
                self._push(self._message(s, ONLINE, at, retain=True), at)
        out = self._out
        states = self.states
        zigbee = self._zigbee
        for t, dev, ev in physical:
            if t >= self._next_due:
                self._due(t)
            state = states[dev]
            if ev == DEAD:
                self._die(state, t)
            elif state.alive:
                if zigbee and ev == MOTION:
                    state.clear_at = t + OCCUPANCY_CLEAR_S
                    self._next_due = min(self._next_due, state.clear_at)
                self._emit(state, ev, t)
            while out and out[0][0] <= t:
                yield heapq.heappop(out)[2]
        if self.end is not None:
            self._due(self.end)
            while out and out[0][0] <= self.end:
                yield heapq.heappop(out)[2]
        while out:
            yield heapq.heappop(out)[2]

    def _die(self, state: _DeviceState, t: float) -> None:
        if not state.alive:
            return
        if state.device.protocol == ZIGBEE:
            off = t + Z2M_OFFLINE_AFTER_S
            if self.end is None or off < self.end:
                self._emit(state, OFFLINE, off, retain=True, exact=True)
        state.alive = False

    def _due(self, t: float) -> None:
        """Everything due up to ``t``: daily fault draws, heartbeats, occupancy clears."""
        day = int(t // 86400)
        if day != self._fault_day:
            self._draw_faults(day)
        while self._next_hb <= t:
            for s in self.states:
                if s.next_hb is not None and s.next_hb <= t:
                    due = s.next_hb
                    s.next_hb = due + s.device.report_s + self.rng.uniform(-1.0, 1.0)
                    if s.alive and not (s.outage_from <= due < s.outage_until):
                        self._emit(s, HEARTBEAT, due)
            self._next_hb = min(
                (s.next_hb for s in self.states if s.next_hb is not None), default=float("inf")
            )
        next_clear = float("inf")
        if self._zigbee:
            for s in self.states:
                if s.clear_at is not None:
                    if s.clear_at <= t:
                        if s.alive:
                            self._emit(s, CLEAR, s.clear_at)
                        s.clear_at = None
                    else:
                        next_clear = min(next_clear, s.clear_at)
        self._next_due = min(self._next_hb, next_clear, (day + 1) * 86400.0)

    def _draw_faults(self, day: int) -> None:
        self._fault_day = day
        f = self.faults
        rng = random.Random(f"{self.seed}:{self.household.id}:{day}:faults")
        base = day * 86400.0
        for s in self.states:
            if s.device.protocol != KIT:
                continue
            if rng.random() < f.reconnect:
                s.outage_from = base + rng.uniform(0, 86400)
                s.outage_until = s.outage_from + rng.uniform(*f.outage_min) * 60.0
                s.burst_n = 0
            if rng.random() < f.clock_jump:
                s.jump_from = base + rng.uniform(0, 80000)
                s.jump_until = base + 86400.0  # set right again at the next time sync
                s.jump = rng.choice((3600.0, -3600.0, 8 * 3600.0, _Y2K - s.jump_from))
            if rng.random() < f.reboot:
                s.reboot_at = base + rng.uniform(0, 86400)

    def _message(self, s: _DeviceState, event: str, t: float, *, retain: bool = False) -> Message:
        kit = s.device.protocol == KIT
        return Message(
            t,
            self.household.id,
            s.device,
            event,
            t,
            s.clock(t) if kit else None,
            s.seq if kit else None,
            s.battery(t),
            s.rssi + int(self.rng.random() * 5.0) - 2,
            None,
            None,
            retain,
        )

    def _emit(
        self, s: _DeviceState, event: str, t: float, *, retain: bool = False, exact: bool = False
    ) -> None:
        if not s.alive:
            return
        f = self.faults
        kit = s.device.protocol == KIT
        fault: str | None = None
        if kit and t >= s.reboot_at:
            s.seq = 0
            s.reboot_at = float("inf")
            fault = REBOOT
        msg = self._message(s, event, t, retain=retain)
        if kit:
            s.seq = (s.seq + 1) % 2**32
        rng = self.rng
        publish = t if exact else t + rng.uniform(0.02, 0.3)
        if kit and s.outage_from <= t < s.outage_until:
            s.burst_n += 1
            publish = s.outage_until + 0.01 * s.burst_n
            fault = BURST
        elif kit and s.jump_from <= t < s.jump_until:
            fault = CLOCK_JUMP
        r = rng.random()
        if exact:
            pass
        elif r < f.loss:
            fault = LOST
        elif r < f.loss + f.malformed:
            msg.body, _why = malformed_body(rng, msg, self.fmt)
            fault = MALFORMED
        elif kit and r < f.loss + f.malformed + f.reorder and fault is None:
            publish += rng.uniform(2.0, 30.0)
            fault = REORDER
        msg.publish_t = publish
        msg.fault = fault
        self._push(msg, publish)
        if kit and fault not in (LOST, MALFORMED) and rng.random() < f.duplicate:
            dup = Message(**{k: getattr(msg, k) for k in Message.__slots__})
            dup.publish_t = publish + rng.uniform(0.2, 5.0)
            dup.fault = DUPLICATE
            self._push(dup, dup.publish_t)

    def _push(self, msg: Message, publish: float) -> None:
        self._n += 1
        heapq.heappush(self._out, (publish, self._n, msg))
