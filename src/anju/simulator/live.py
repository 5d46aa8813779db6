"""Live mode: the fleet publishes on the kit and Zigbee2MQTT topics, paced by a clock, after being
registered in the database."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import Clock, RealClock, SimClock
from anju.simulator.areas import area_of
from anju.simulator.catalog import Scenario, load_scenario
from anju.simulator.devices import DeviceLayer
from anju.simulator.fleet import Fleet
from anju.simulator.household import HouseholdSim, Truth
from anju.simulator.messages import Message, formatter
from anju.simulator.mqtt import MqttVersion, Publisher
from anju.simulator.people import people_for
from anju.store import households as service
from anju.store.models import Device, Household

log = logging.getLogger(__name__)

_EARLY_REAL_S = 0.005
#: Malformed messages kept in the stats for inspection (a long run sends many).
_KEEP_MALFORMED = 10_000


@dataclass
class LiveStats:
    """What a live run did: published and acknowledged messages, faults, emergencies, lag."""

    published: int = 0
    acked: int = 0
    skipped_lost: int = 0
    malformed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    truth: list[Truth] = field(default_factory=list)
    #: Published messages that were deliberately malformed: (topic, payload) for the tests.
    malformed_messages: list[tuple[str, bytes]] = field(default_factory=list)
    #: Simulated seconds covered.
    simulated_s: float = 0.0
    real_s: float = 0.0
    #: Worst delay between when a message was due (on the clock) and when it went out, seconds.
    max_lag_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.published / self.real_s if self.real_s > 0 else 0.0


async def register_fleet(session: AsyncSession, fleet: Fleet, now: datetime) -> int:
    """Register the fleet's households and devices that are not there yet; returns how many rows
    were added. Idempotent: a second call adds nothing. The caller commits."""
    ids = [h.id for h in fleet.households]
    have_homes: set[str] = set()
    have_devices: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        have_homes.update(await session.scalars(select(Household.id).where(Household.id.in_(chunk))))
        have_devices.update(await session.scalars(select(Device.id).where(Device.household_id.in_(chunk))))
    added = 0
    for h in fleet.households:
        if h.id not in have_homes:
            people = people_for(h.index, fleet.seed)
            await service.create_household(
                session=session,
                household_id=h.id,
                name=people.name,
                now=now,
                address=people.address,
                area=area_of(h.index),
                timezone=h.timezone,
                notes=f"simulated ({h.persona.name}, {h.layout.name}, {h.protocol})",
                key_holder=people.key_holder,
                access_notes=people.access_notes,
                translations=people.translations,
                residents=[service.ResidentData(**people.resident)],
                contacts=[service.ContactData(**c) for c in people.contacts],
            )
            added += 1
        for d in h.devices:
            if d.id in have_devices:
                continue
            await service.register_device(
                session=session,
                device_id=d.id,
                household_id=h.id,
                type=d.type,
                protocol=d.protocol,
                profile=d.profile,
                now=now,
                location=d.location,
                external_name=d.external_name,
                heartbeat_s=d.heartbeat_s,
            )
            added += 1
    return added


class FleetStream:
    """All households' messages merged in the order they reach the broker."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        scenario: Scenario,
        start: float,
        seed: int | None = None,
        build: bool = True,
    ) -> None:
        self.seed = fleet.seed if seed is None else seed
        self.fleet = fleet
        self.scenario = scenario
        self.start = start
        self.sims: list[HouseholdSim] = []
        self._streams: list[Iterator[Message]] = []
        self._heap: list[tuple[float, int, Message]] = []
        self._truth_seen = [0] * len(fleet.households)
        if build:
            for _ in self.build():
                pass

    def build(self, step: int = 500) -> Iterator[int]:
        """Start every household's stream; yields after each ``step`` homes (how many are done),
        so a caller on an event loop can let others run while 100k homes are set up."""
        for i, h in enumerate(self.fleet.households[len(self.sims) :], start=len(self.sims)):
            sim = HouseholdSim(h, seed=self.seed, scenario=self.scenario, start=self.start)
            layer = DeviceLayer(h, seed=self.seed, faults=self.scenario.faults, start=self.start)
            self.sims.append(sim)
            stream = layer.messages(sim.events())
            self._streams.append(stream)
            first = next(stream, None)
            if first is not None:
                heapq.heappush(self._heap, (first.publish_t, i, first))
            if (i + 1) % step == 0:
                yield i + 1

    @classmethod
    async def create(
        cls, fleet: Fleet, *, scenario: Scenario, start: float, stop: asyncio.Event
    ) -> FleetStream:
        """Build without holding the event loop for long; stops early when ``stop`` is set."""
        self = cls(fleet, scenario=scenario, start=start, build=False)
        for _ in self.build():
            await asyncio.sleep(0)
            if stop.is_set():
                break
        return self

    def peek(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop(self) -> Message:
        _t, i, msg = self._heap[0]
        nxt = next(self._streams[i], None)
        if nxt is None:
            heapq.heappop(self._heap)
        else:
            heapq.heapreplace(self._heap, (nxt.publish_t, i, nxt))
        return msg

    def new_truth(self) -> list[Truth]:
        """Emergencies planned since the last call."""
        out: list[Truth] = []
        for i, sim in enumerate(self.sims):
            if len(sim.truth) > self._truth_seen[i]:
                out.extend(sim.truth[self._truth_seen[i] :])
                self._truth_seen[i] = len(sim.truth)
        return out


async def run_live(
    fleet: Fleet,
    *,
    mqtt_url: str,
    speed: float = 1.0,
    clock: Clock | None = None,
    stop: asyncio.Event,
    protocol: MqttVersion = "v311",
    username: str | None = None,
    password: str | None = None,
    scenario: str | Scenario = "default",
    emergency_rate_multiplier: float = 1.0,
    window: int = 1000,
    duration_s: float | None = None,
    on_truth: Callable[[Truth], None] | None = None,
    on_message: Callable[[Message], None] | None = None,
    client_id: str | None = None,
    stats: LiveStats | None = None,
    retain_availability: bool = True,
    on_ready: Callable[[], None] | None = None,
    start: datetime | None = None,
) -> LiveStats:
    """Publish the fleet's messages as they fall due on ``clock`` until ``stop`` is set (or
    ``duration_s`` of simulated time has passed). A ``SimClock`` without speed runs as fast as the
    broker acknowledges; with ``speed`` X it runs X times real time. Zigbee2MQTT availability is
    retained, as Zigbee2MQTT does, unless ``retain_availability`` is False (tests on a shared broker).
    ``on_ready`` is called once the fleet is built and the broker connected, as publishing starts."""
    the_scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if emergency_rate_multiplier != 1.0:
        the_scenario = the_scenario.scaled(emergency_rate_multiplier)
    # Without a clock, one is started once the fleet is built (100k homes take a minute to build).
    begin = clock.now() if clock is not None else start or RealClock().now()
    stats = stats if stats is not None else LiveStats()
    fmts = {h.timezone: formatter(h.timezone) for h in fleet.households}
    tz_of = {h.id: h.timezone for h in fleet.households}
    stream = await FleetStream.create(fleet, scenario=the_scenario, start=begin.timestamp(), stop=stop)
    publisher = Publisher(
        mqtt_url, protocol=protocol, client_id=client_id, username=username, password=password, window=window
    )
    await publisher.connect()
    if clock is None:
        clock = SimClock(begin, speed=speed)
    t0 = begin.timestamp()
    if on_ready is not None:
        on_ready()
    began = time.perf_counter()
    until = t0 + duration_s if duration_s is not None else None
    truth_check = 0.0
    stopping = asyncio.ensure_future(stop.wait())
    # Publishing this little ahead of time is not worth a trip through the event loop.
    early = _EARLY_REAL_S * max(speed, 1.0)
    try:
        while not stop.is_set():
            due = stream.peek()
            if due is None or (until is not None and due >= until):
                break
            now = clock.now().timestamp()
            if due > now + early:
                sleeping = asyncio.ensure_future(clock.sleep(due - now))
                await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
                sleeping.cancel()
                continue
            msg = stream.pop()
            if on_message is not None:
                on_message(msg)
            if not msg.delivered:
                stats.skipped_lost += 1
                stats.faults[msg.fault or ""] += 1
                continue
            if msg.fault is not None:
                stats.faults[msg.fault] += 1
            payload = msg.payload(fmts[tz_of[msg.household_id]])
            if msg.malformed:
                stats.malformed += 1
                if len(stats.malformed_messages) < _KEEP_MALFORMED:
                    stats.malformed_messages.append((msg.topic, payload))
            await publisher.publish(msg.topic, payload, retain=msg.retain and retain_availability)
            stats.published += 1
            lag = max(0.0, now - due)
            if lag > stats.max_lag_s:
                stats.max_lag_s = lag
            if now >= truth_check:
                truth_check = now + 60.0
                for t in stream.new_truth():
                    stats.truth.append(t)
                    if on_truth is not None:
                        on_truth(t)
        await publisher.drain()
    finally:
        stopping.cancel()
        for t in stream.new_truth():
            stats.truth.append(t)
            if on_truth is not None:
                on_truth(t)
        stats.acked = publisher.acked
        stats.simulated_s = clock.now().timestamp() - t0
        stats.real_s = time.perf_counter() - began
        await publisher.close()
    return stats
