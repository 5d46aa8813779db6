"""File mode: the contract's event CSV (sorted by ts), ground truth JSON lines and the fleet file."""

from __future__ import annotations

import heapq
import json
import multiprocessing
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from anju.simulator.catalog import Scenario
from anju.simulator.devices import DeviceLayer
from anju.simulator.fleet import Fleet, SimHousehold
from anju.simulator.household import HouseholdSim, Truth
from anju.simulator.messages import (
    CLEAR,
    DUPLICATE,
    HEARTBEAT,
    LOST,
    MALFORMED,
    Message,
    TsFormatter,
    formatter,
)

EVENTS_CSV = "events.csv"
TRUTH_JSONL = "truth.jsonl"
FLEET_JSON = "fleet.json"
CSV_HEADER = "ts,household_id,device_id,type,event,battery\n"
#: Faults after which the server stores nothing new (never arrived, dead-lettered, stored once).
_NOT_STORED = frozenset({LOST, MALFORMED, DUPLICATE})


@dataclass
class FileRun:
    """What a file-mode run wrote, and how fast."""

    households: int
    days: float
    rows: int = 0
    messages: int = 0
    truth: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def csv_row(msg: Message, fmt: TsFormatter) -> str | None:
    """The event-file line the server would store for ``msg``, or None if it stores nothing."""
    if not msg.delivered or msg.malformed or msg.fault == DUPLICATE:
        return None
    d = msg.device
    event = HEARTBEAT if msg.event == CLEAR else msg.event
    return f"{fmt(msg.server_time)},{msg.household_id},{d.id},{d.type},{event},{msg.battery}\n"


def truth_line(truth: Truth, fmt: TsFormatter, run_end: float | None) -> str:
    end = truth.end if truth.end is not None and (run_end is None or truth.end <= run_end) else None
    record: dict[str, object] = {
        "household_id": truth.household_id,
        "kind": truth.kind,
        "start": fmt(truth.start),
        "end": fmt(end) if end is not None else None,
    }
    if truth.device_id is not None:
        record["device_id"] = truth.device_id
    for key, value in truth.detail.items():
        record[key] = fmt(value) if key.endswith(("_return", "_at")) and isinstance(value, float) else value
    return json.dumps(record, ensure_ascii=False) + "\n"


@dataclass
class _Stream:
    sim: HouseholdSim
    layer: DeviceLayer
    messages: Iterator[Message]
    peeked: Message | None = None
    #: The middle of each device's rows: ",household,device,type,".
    heads: dict[str, str] = field(default_factory=dict)


def write_files(
    out: Path,
    fleet: Fleet,
    *,
    scenario: Scenario,
    start: float,
    days: float,
    seed: int | None = None,
    workers: int = 1,
) -> FileRun:
    """Simulate ``days`` from ``start`` for the whole fleet and write the three files into ``out``.

    With ``workers > 1`` the households are split over processes; the output is the same."""
    began = time.perf_counter()
    seed = fleet.seed if seed is None else seed
    out.mkdir(parents=True, exist_ok=True)
    homes = fleet.households
    workers = max(1, min(workers, len(homes)))
    run = FileRun(households=len(homes), days=days)
    if workers == 1:
        with open(out / EVENTS_CSV, "w", encoding="utf-8", newline="") as f:
            f.write(CSV_HEADER)
            part = _simulate(homes, seed, scenario, start, days, f, keyed=False)
        parts = [part]
    else:
        shards = [homes[i::workers] for i in range(workers)]
        # With one UTC offset throughout, the rows' text sorts as their time does: no sort key.
        keyed = not _one_offset(homes, start, start + days * 86400.0)
        paths = [out / f".{EVENTS_CSV}.part{i}" for i in range(workers)]
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(_simulate_to, shard, seed, scenario, start, days, path, keyed)
                for shard, path in zip(shards, paths, strict=True)
            ]
            parts = [f.result() for f in futures]
        handles = [open(p, encoding="utf-8") for p in paths]  # noqa: SIM115 - closed below
        try:
            with open(out / EVENTS_CSV, "w", encoding="utf-8", newline="") as f:
                f.write(CSV_HEADER)
                if keyed:
                    f.writelines(line[16:] for line in heapq.merge(*handles))
                else:
                    f.writelines(heapq.merge(*handles))
        finally:
            for h in handles:
                h.close()
            for p in paths:
                p.unlink()
    for part in parts:
        run.rows += part.rows
        run.messages += part.messages
        run.faults.update(part.faults)
    fmts = {h.timezone: formatter(h.timezone) for h in homes}
    tz_of = {h.id: h.timezone for h in homes}
    end = start + days * 86400.0
    truths = sorted((t for part in parts for t in part.truths), key=lambda t: (t.start, t.household_id))
    with open(out / TRUTH_JSONL, "w", encoding="utf-8") as f:
        for t in truths:
            f.write(truth_line(t, fmts[tz_of[t.household_id]], end))
            run.truth[t.kind] += 1
    fleet.write(out / FLEET_JSON)
    run.seconds = time.perf_counter() - began
    return run


@dataclass
class _Part:
    rows: int = 0
    messages: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    truths: list[Truth] = field(default_factory=list)


def _simulate_to(
    homes: tuple[SimHousehold, ...],
    seed: int,
    scenario: Scenario,
    start: float,
    days: float,
    path: Path,
    keyed: bool,
) -> _Part:
    with open(path, "w", encoding="utf-8", newline="") as f:
        return _simulate(homes, seed, scenario, start, days, f, keyed=keyed)


def _one_offset(homes: tuple[SimHousehold, ...], start: float, end: float) -> bool:
    """True when every household's rows carry the same UTC offset for the whole run."""
    zones = {h.timezone for h in homes}
    if len(zones) != 1:
        return False
    tz = ZoneInfo(zones.pop())
    offsets = {datetime.fromtimestamp(t, tz).utcoffset() for t in range(int(start), int(end) + 3601, 3600)}
    return len(offsets) == 1


def _simulate(
    homes: tuple[SimHousehold, ...],
    seed: int,
    scenario: Scenario,
    start: float,
    days: float,
    f: TextIO,
    *,
    keyed: bool,
) -> _Part:
    """Rows of ``homes`` to ``f`` in time order, a day at a time; ``keyed`` prefixes a sort key."""
    end = start + days * 86400.0
    part = _Part()
    streams: list[_Stream] = []
    for h in homes:
        sim = HouseholdSim(h, seed=seed, scenario=scenario, start=start, end=end)
        layer = DeviceLayer(h, seed=seed, faults=scenario.faults, start=start, end=end)
        heads = {d.id: f",{h.id},{d.id},{d.type}," for d in h.devices}
        streams.append(_Stream(sim, layer, layer.messages(sim.events()), heads=heads))
    buckets: dict[int, list[tuple[int, str]]] = defaultdict(list)

    def flush(day: int) -> None:
        rows = buckets.pop(day)
        rows.sort()
        if keyed:
            f.writelines(f"{key:015d}\t{line}" for key, line in rows)
        else:
            f.writelines(line for _key, line in rows)
        part.rows += len(rows)

    for k in range(1, int(days) + 3):
        boundary = start + k * 86400.0
        for s in streams:
            _pull(s, boundary, buckets, part, start)
        # A message published after ``boundary`` has a server time within 5.5 min before it.
        for day in sorted(b for b in buckets if b <= k - 2):
            flush(day)
    for day in sorted(buckets):
        flush(day)
    part.truths = [t for s in streams for t in s.sim.truth if start <= t.start < end]
    return part


def _pull(
    s: _Stream, boundary: float, buckets: dict[int, list[tuple[int, str]]], run: _Part, start: float
) -> None:
    fmt = s.layer.fmt
    heads = s.heads
    faults = run.faults
    msg = s.peeked
    s.peeked = None
    n = 0
    while True:
        if msg is None:
            msg = next(s.messages, None)
            if msg is None:
                break
        if msg.publish_t >= boundary:
            s.peeked = msg
            break
        n += 1
        fault = msg.fault
        if fault is not None:
            faults[fault] += 1
            if fault in _NOT_STORED:
                msg = None
                continue
        key = msg.server_time
        # Zigbee2MQTT's occupancy:false maps to no event: the server keeps it as a status report.
        event = HEARTBEAT if msg.event == CLEAR else msg.event
        line = f"{fmt(key)}{heads[msg.device.id]}{event},{msg.battery}\n"
        buckets[int((key - start) // 86400)].append((round(key * 1000), line))
        msg = None
    run.messages += n
