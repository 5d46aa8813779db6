"""Replay speed (events/s on one core) and engine state per home with a learned profile.

python bench/replay_speed.py [--events 300000] [--homes 100000] [--against REV --rounds 5]

Two event files, both through ``anju replay``'s own path (CSV parsing included): a sparse
synthetic fleet (500 homes with ~40 events a day each: nearly every event starts a silence that
reaches a timer, the engine's worst case) and the six real homes of the detection benchmark
(hundreds of events a day, as a kit really reports). Reference: 40,000 events/s on the sparse file
before the fast path (2026-11-29, same machine).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from anju.domain import DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.learn import LearnedRoutine
from anju.engine.model import DeviceSpec, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.replay import read_events, read_rows, replay_rows

REFERENCE_EVENTS_S = 40_000

TZ = timezone(timedelta(hours=8))


def event_file(n: int, homes: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    t = datetime(2026, 1, 1, tzinfo=TZ)
    step = 86400 * 14 / n
    lines = ["ts,household_id,device_id,type,event,battery"]
    for _ in range(n):
        t += timedelta(seconds=rng.expovariate(1 / step))
        h = rng.randrange(homes)
        if rng.random() < 0.05:
            lines.append(
                f"{t.isoformat(timespec='milliseconds')},h{h},door-{h},door,{rng.choice(['open', 'close'])},"
            )
        else:
            lines.append(f"{t.isoformat(timespec='milliseconds')},h{h},pir-{h},pir,motion,")
    return "\n".join(lines) + "\n"


def real_homes_file() -> str:
    """The six real homes of the detection benchmark as one event file, sorted by time."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from datasets import load_homes

    rows = []
    start = datetime(2026, 1, 5, tzinfo=TZ)
    for home in load_homes():
        # Recorded years apart: moved by whole weeks to one start, so they run side by side.
        weeks = round((start - home.observations[0].at).total_seconds() / (7 * 86400))
        shift = timedelta(weeks=weeks)
        for o in home.observations:
            at = (o.at + shift).astimezone(o.at.tzinfo)
            line = f"{at.isoformat(timespec='milliseconds')},{o.household_id},{o.device_id},"
            rows.append((at.timestamp(), line + f"{o.kind.value},{o.event.value},"))
    rows.sort(key=lambda r: r[0])
    return "ts,household_id,device_id,type,event,battery\n" + "\n".join(r for _, r in rows) + "\n"


def _replay_rate(text: str, rounds: int = 3) -> tuple[float, int]:
    """Best of ``rounds`` (the machine is shared): events/s through ``anju replay``'s path."""
    pack = load_pack(default_pack_path())
    n = text.count("\n") - 1
    best, alerts = 0.0, 0
    for _ in range(rounds):
        engine = Engine(pack)
        start = time.perf_counter()
        alerts = sum(1 for _ in replay_rows(engine, read_rows(io.StringIO(text))))
        best = max(best, n / (time.perf_counter() - start))
    return best, alerts


def speed(n: int) -> None:
    print("| event file | events | events/s (replay incl. CSV) | vs reference 40k | alerts |")
    print("|---|---|---|---|---|")
    text = event_file(n, 500)
    rate, alerts = _replay_rate(text)
    ratio = rate / REFERENCE_EVENTS_S
    print(f"| sparse synthetic, 500 homes x 14 days | {n:,} | {rate:,.0f} | {ratio:.1f}x | {alerts} |")
    text = real_homes_file()
    rate, alerts = _replay_rate(text)
    count = text.count("\n") - 1
    print(f"| six real homes | {count:,} | {rate:,.0f} | {rate / REFERENCE_EVENTS_S:.1f}x | {alerts} |")
    print("target >= 100,000 events/s on one core")
    obs = list(read_events(io.StringIO(event_file(n, 500))))
    engine = Engine(load_pack(default_pack_path()))
    start = time.perf_counter()
    for o in obs:
        engine.advance(o.at)
        engine.observe(o)
    secs = time.perf_counter() - start
    print(f"engine only, through Observation objects (the live service's path): {n / secs:,.0f} events/s")


def memory(homes: int) -> None:
    pack = load_pack(default_pack_path())
    base = datetime(2026, 1, 1, tzinfo=TZ)
    specs = [
        HouseholdSpec(
            household_id=f"h{i}",
            timezone="Asia/Shanghai",
            devices=(
                DeviceSpec(device_id=f"pir-{i}", kind=DeviceKind.PIR, heartbeat_s=3600),
                DeviceSpec(device_id=f"door-{i}", kind=DeviceKind.DOOR, heartbeat_s=3600),
                DeviceSpec(device_id=f"btn-{i}", kind=DeviceKind.BUTTON, heartbeat_s=3600),
            ),
        )
        for i in range(homes)
    ]
    # A learned profile (14 days of a routine) copied into every home, as after two weeks live.
    teacher = Engine(pack)
    teacher.configure(specs[:1])
    for d in range(15):
        for m in range(7 * 60, 22 * 60, 25):
            teacher.advance(base + timedelta(days=d, minutes=m))
            teacher.observe(
                Observation(
                    household_id="h0",
                    device_id="pir-0",
                    kind=DeviceKind.PIR,
                    event=EventName.MOTION,
                    at=base + timedelta(days=d, minutes=m),
                )
            )
    learned = teacher.snapshot("h0")["profile"]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    engine = Engine(pack)
    engine.configure(specs)
    now = base + timedelta(days=15, hours=10)
    for i in range(homes):
        home = engine._homes[f"h{i}"]
        home.profile = LearnedRoutine.from_json(learned)
        engine.observe(
            Observation(
                household_id=f"h{i}",
                device_id=f"pir-{i}",
                kind=DeviceKind.PIR,
                event=EventName.HEARTBEAT,
                at=now,
            )
        )
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    snap = len(json.dumps(engine.snapshot("h0")))
    print(
        f"engine state for {homes:,} homes with a learned profile: {total / 2**20:.1f} MiB, "
        f"{total / homes:,.0f} B per home (target <= 4096); JSON snapshot {snap:,} B per home"
    )
    checkin_memory(engine, homes, total)


def checkin_memory(engine: Engine, homes: int, base: int) -> None:
    """What a home with check-in state adds: one under way; the worst case, three that paged."""
    from anju.engine.rules.checkin_book import RECENT, Book, Pending

    for label, paged in (("a check-in under way", 0), (f"the worst case, {RECENT} pages in 36 h", RECENT)):
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(homes):
            book = Book()
            t = 1.77e9 + i
            book.recent = [
                ["inactivity", t + k, 96 + k, t + k + 1.0, t + k + 601.0, "unanswered"] for k in range(paged)
            ]
            if not paged:
                rec = ["inactivity", t, 96, t + 1.0, -1.0, "asked"]
                facts = {"rule": "inactivity", "key": f"inactivity@{t}", "detail": None, "found": t + 1.0}
                book.pending = Pending(facts, t, rec)
                book.recent = [rec]
            engine._homes[f"h{i}"].states.checkin_book = book
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        extra = sum(s.size_diff for s in after.compare_to(before, "filename"))
        print(f"a home with {label}: +{extra / homes:,.0f} B, {(base + extra) / homes:,.0f} B per home")


_TIMED = """
import io, sys, time
from anju.engine.core import Engine
from anju.engine.pack import default_pack_path, load_pack
from anju.replay import read_rows, replay_rows
text = open(sys.argv[1], encoding="utf-8").read()
n = text.count("\\n") - 1
engine = Engine(load_pack(default_pack_path()))
start = time.perf_counter()
alerts = sum(1 for _ in replay_rows(engine, read_rows(io.StringIO(text))))
print(n / (time.perf_counter() - start), alerts)
"""


def against(rev: str, n: int, rounds: int) -> None:
    """The sparse replay of this tree and of git revision ``rev``, interleaved round by round in fresh
    processes (the machine is shared: only the ratio of neighbouring runs means much)."""
    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", rev], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / f"ref-{sha}"
        add = ["git", "-C", str(root), "worktree", "add", "--detach", str(ref), sha]
        subprocess.run(add, capture_output=True, check=True)
        try:
            events = Path(tmp) / "events.csv"
            events.write_text(event_file(n, 500), encoding="utf-8")
            rates: dict[str, list[float]] = {"this tree": [], sha: []}
            for _ in range(rounds):
                for name, tree in (("this tree", root), (sha, ref)):
                    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
                    out = subprocess.run(
                        [sys.executable, "-c", _TIMED, str(events)], capture_output=True, text=True, env=env
                    )
                    if out.returncode != 0:
                        raise SystemExit(f"{name}: {out.stderr.strip().splitlines()[-1:]}")
                    rates[name].append(float(out.stdout.split()[0]))
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(ref)], check=False)
    print(f"\nSide by side, sparse file, {rounds} interleaved rounds (events/s, best | median):")
    print("| tree | best | median |\n|---|---|---|")
    for name, r in rates.items():
        print(f"| {name} | {max(r):,.0f} | {statistics.median(r):,.0f} |")
    print(
        f"ratio this tree / {sha}: {max(rates['this tree']) / max(rates[sha]):.2f} (best), "
        f"{statistics.median(rates['this tree']) / statistics.median(rates[sha]):.2f} (median)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--homes", type=int, default=100_000)
    ap.add_argument("--against", metavar="REV", help="also replay the sparse file with this git revision")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds for --against")
    args = ap.parse_args()
    speed(args.events)
    if args.against:
        against(args.against, args.events, args.rounds)
    memory(args.homes)


if __name__ == "__main__":
    main()
