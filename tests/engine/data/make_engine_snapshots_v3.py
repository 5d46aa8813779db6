"""Writes ``engine_snapshots_v3.json``: snapshots in the version 3 form, by the engine of 2a83644 (before
the rules became modules), and what that engine raised after each cut.

    git worktree add /tmp/v3 2a83644
    cd /tmp/v3 && PYTHONPATH=src python3 <this file> <path of engine_snapshots_v3.json>
"""

import json
import random
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.replay import alert_line

SH = ZoneInfo("Asia/Shanghai")
HID = "h-test"
DEVICES = (
    DeviceSpec(device_id="pir-1", kind=DeviceKind.PIR, heartbeat_s=3600, location="bedroom"),
    DeviceSpec(device_id="pir-2", kind=DeviceKind.PIR, heartbeat_s=3600, location="kitchen"),
    DeviceSpec(device_id="door-1", kind=DeviceKind.DOOR, heartbeat_s=3600),
    DeviceSpec(device_id="btn-1", kind=DeviceKind.BUTTON, battery_low=30),
)
KIND = {d.device_id: d.kind for d in DEVICES}


def engine(overrides=None):
    e = Engine(load_pack(default_pack_path()))
    e.configure(
        [
            HouseholdSpec(
                household_id=HID, timezone="Asia/Shanghai", devices=DEVICES, overrides=dict(overrides or {})
            )
        ]
    )
    return e


def local(day, hh, mm=0):
    return datetime(2026, 1, day, hh, mm, tzinfo=SH)


def obs(device, event, at, battery=None):
    return Observation(
        household_id=HID, device_id=device, kind=KIND[device], event=event, at=at, battery=battery
    )


def routine(seed, days):
    rng = random.Random(seed)
    out = []
    for d in range(days):
        base = datetime(2026, 1, 2, tzinfo=SH) + timedelta(days=d)
        t = base + timedelta(hours=6, minutes=rng.randrange(60))
        while t < base + timedelta(hours=22):
            out.append(obs(rng.choice(["pir-1", "pir-2"]), EventName.MOTION, t))
            if rng.random() < 0.03:
                out.append(obs("door-1", EventName.OPEN, t + timedelta(seconds=5)))
                out.append(obs("door-1", EventName.CLOSE, t + timedelta(seconds=30)))
                t += timedelta(minutes=rng.randrange(20, 240))
            t += timedelta(minutes=rng.expovariate(1 / 12))
        for h in range(0, 24, 1):
            for dev in ("pir-1", "pir-2", "door-1"):
                out.append(obs(dev, EventName.HEARTBEAT, base + timedelta(hours=h, seconds=17)))
    out.sort(key=lambda o: o.at)
    return out


def run(e, events):
    lines = []
    for o in events:
        lines += [alert_line(f) for f in e.advance(o.at)]
        lines += [alert_line(f) for f in e.observe(o)]
    return lines


def scenario(overrides, before, after, until):
    e = engine(overrides)
    run(e, before)
    snap = json.loads(json.dumps(e.snapshot(HID)))
    lines = run(e, after)
    lines += [alert_line(f) for f in e.advance(until)]
    return {
        "overrides": overrides,
        "snapshot": snap,
        "after": [[o.device_id, o.event.value, o.at.isoformat(), o.battery] for o in after],
        "until": until.isoformat(),
        "alerts": lines,
    }


out = {}
# The engine test's own case: a silence alerted on at 13:00, snapshot at 14:00.
e = engine()
e.advance(local(5, 10))
e.observe(obs("pir-1", EventName.MOTION, local(5, 10)))
e.advance(local(5, 14))
out["before_second_alert"] = json.loads(json.dumps(e.snapshot(HID)))
# Twelve days of a routine, cut with a door left open, a low battery and the resident out.
events = routine(7, 12)
cut = local(12, 15)
before = [o for o in events if o.at < cut] + [
    obs("btn-1", EventName.PRESS, cut - timedelta(minutes=30), battery=25),
    obs("door-1", EventName.OPEN, cut - timedelta(minutes=5)),
]
before.sort(key=lambda o: o.at)
after = [o for o in events if o.at >= cut and o.device_id != "pir-2"]
out["learned_home_door_open"] = scenario({}, before, after, local(15, 12))
out["learned_home_again_at_max"] = scenario(
    {"inactivity": {"alert_again_at_max": True}, "low_battery": {"threshold": 40}},
    before,
    [o for o in after if o.at < local(13, 1)],
    local(15, 12),
)
lines = [f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in out.items()]
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    fh.write("{\n" + ",\n".join(lines) + "\n}\n")
for k, v in out.items():
    if "alerts" in v:
        print(
            k, len(v["alerts"]), "alerts after the cut", sorted({json.loads(a)["rule"] for a in v["alerts"]})
        )
