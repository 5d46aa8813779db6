"""Replay speed (events/s on one core) and engine state per home with a learned profile.

python bench/replay_speed.py [--events 300000] [--homes 100000]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
import tracemalloc
from datetime import datetime, timedelta, timezone

from anju.domain import DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.learn import Profile
from anju.engine.model import DeviceSpec, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.replay import read_events, replay

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


def speed(n: int) -> None:
    text = event_file(n, 500)
    pack = load_pack(default_pack_path())
    engine = Engine(pack)
    start = time.perf_counter()
    alerts = sum(1 for _ in replay(engine, read_events(io.StringIO(text))))
    secs = time.perf_counter() - start
    print(
        f"replay (CSV parse + engine) {n} events over 500 homes x 14 days: {secs:.2f} s, "
        f"{n / secs:,.0f} events/s (target >= 100,000); {alerts} alerts"
    )
    obs = list(read_events(io.StringIO(text)))
    engine = Engine(pack)
    start = time.perf_counter()
    for o in obs:
        engine.advance(o.at)
        engine.observe(o)
    secs = time.perf_counter() - start
    print(f"engine only: {n / secs:,.0f} events/s")


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
        home.profile = Profile.from_json(learned)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--homes", type=int, default=100_000)
    args = ap.parse_args()
    speed(args.events)
    memory(args.homes)


if __name__ == "__main__":
    main()
