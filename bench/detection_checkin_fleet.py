"""The simulated fleet of the check-in benchmark: residents answer unless an emergency is under way.

Run by ``bench/detection_checkin.py`` (``--sim-days``, ``--sim-households``): ``anju simulate --out``
with its ground truth; a resident answers check-ins with the answer model of that script, except
while a fall, a wandering or a not-returned emergency of the ground truth is under way.
"""

from __future__ import annotations

import heapq
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from anju.clock import parse_ts
from anju.domain import CheckinAnswer, Rule, Severity
from anju.engine.core import Engine
from anju.engine.model import CheckinReply, Finding, HouseholdSpec
from anju.engine.pack import RulePack, load_pack
from anju.replay import load_fleet, read_events
from detection import _score
from detection_checkin import HIGH, ROOT, STEP_S, Answers, answer_at, is_night

#: Emergencies during which the resident cannot answer (a fall, lost outside).
UNABLE = frozenset({"fall", "wander", "not_returned"})


def simulated(days: int, households: int, seed: int) -> None:
    """A simulated fleet with ground truth: residents answer unless an emergency is under way."""
    print(f"\n## Simulated fleet ({households} homes x {days} days, seed {seed})\n")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "anju.cli", "simulate", "--out", tmp, "--days", str(days)]
        cmd += ["--households", str(households), "--seed", str(seed)]
        subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
        out = Path(tmp)
        truth = [json.loads(x) for x in (out / "truth.jsonl").read_text().splitlines() if x.strip()]
        fleet = load_fleet(out / "fleet.json")
        with (out / "events.csv").open(encoding="utf-8", newline="") as fh:
            events = [o for o in read_events(fh) if not isinstance(o, CheckinReply)]
    unable: dict[str, list[tuple[float, float]]] = {}
    for inc in truth:
        start = parse_ts(str(inc["start"])).timestamp()
        end = parse_ts(str(inc["end"])).timestamp() if inc.get("end") else start + 86400
        if inc["kind"] in UNABLE:
            unable.setdefault(str(inc["household_id"]), []).append((start - 300, max(end, start + 86400)))
    zones = {h.household_id: ZoneInfo(h.timezone) for h in fleet}
    print("| pack | kind | incidents | recall | mean latency min | p95 latency min |")
    print("|---|---|---|---|---|---|")
    packs = {
        "today's rules": "default.toml",
        "fixed baseline": "baseline-fixed.toml",
        "check-ins": "checkin.toml",
    }
    for name, file in packs.items():
        found, calls, night = _fleet(load_pack(ROOT / "rules" / file), fleet, events, unable, zones, seed)
        _score(name, truth, found, days, households)
        if calls:
            rate = f"{calls / (days * households):.3f} ({night / (days * households):.3f})"
            print(f"| {name} | check-ins per home-day (at night) | | | {rate} | |")


def _fleet(
    pack: RulePack,
    fleet: list[HouseholdSpec],
    events: list[Any],
    unable: dict[str, list[tuple[float, float]]],
    zones: dict[str, ZoneInfo],
    seed: int,
) -> tuple[list[Finding], int, int]:
    """The fleet's operator-facing findings with the answer model, and its check-ins (at night)."""
    engine = Engine(pack)
    engine.configure(fleet)
    found: list[Finding] = []
    queue: list[tuple[float, str]] = []
    calls = night = 0
    shanghai = ZoneInfo("Asia/Shanghai")

    def busy(hid: str, t: float) -> bool:
        return any(a <= t <= b for a, b in unable.get(hid, ()))

    def take(fs: list[Finding]) -> None:
        nonlocal calls, night
        for f in fs:
            tz = zones.get(f.household_id, shanghai)
            if f.rule is Rule.CHECKIN and f.severity is Severity.MEDIUM:
                calls += 1
                night += is_night(f, tz)
                if busy(f.household_id, f.at.timestamp()):
                    continue  # incapacitated: never answers
                t = answer_at(f, Answers(), seed, tz, lambda _a: False)
                if t is not None:
                    heapq.heappush(queue, (t, f.household_id))
                continue
            found.append(f)
            if f.severity.rank >= HIGH and not busy(f.household_id, f.at.timestamp()):
                engine.learn_outcome(f.household_id, f.rule.value, f.at, "false_alarm")

    cur = events[0].at.timestamp() if events else 0.0

    def run_to(t: float) -> None:
        nonlocal cur
        while cur < t:
            cur = min(cur + STEP_S, t, queue[0][0] if queue else t)
            take(engine.advance_to(cur))
            while queue and queue[0][0] <= cur:
                ta, hid = heapq.heappop(queue)
                take(engine.answer(hid, CheckinAnswer.OK, ta))

    for o in events:
        run_to(o.at.timestamp())
        take(engine.observe(o))
    if events:
        run_to(events[-1].at.timestamp() + 3600)
    return found, calls, night
