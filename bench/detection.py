"""Detection benchmark: the learned rules against the fixed 4 h / 10 h baseline, side by side.

Real homes (../shared/datasets): false high/critical alerts per home-day on ordinary life, and the
detection time of incapacitation injected by cutting every event after a random t0 (the engine
sees the history before t0 only; the fork after t0 uses snapshot/restore). Simulated fleets with
ground truth (``anju simulate --out``): recall and latency per kind, false alerts per home-day.

    python bench/detection.py [--injections 60] [--seed 7] [--sim-days 14 --sim-households 40]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from anju.clock import parse_ts
from anju.domain import Severity
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec
from anju.engine.pack import RulePack, load_pack
from anju.replay import load_fleet, read_events
from datasets import RealHome, load_homes

ROOT = Path(__file__).resolve().parents[1]
PACKS = {"learned": ROOT / "rules" / "default.toml", "fixed": ROOT / "rules" / "baseline-fixed.toml"}
HIGH = Severity.HIGH.rank
HORIZON = timedelta(hours=24)
CLOCK_TOLERANCE = timedelta(minutes=5)
SETTLED = timedelta(days=14)


def _spec(home: RealHome) -> HouseholdSpec:
    devices = {o.device_id: o.kind for o in home.observations}
    hid = home.observations[0].household_id
    return HouseholdSpec(
        household_id=hid,
        timezone=home.timezone,
        devices=tuple(
            DeviceSpec(device_id=d, kind=k, location=home.locations.get(d, "")) for d, k in devices.items()
        ),
    )


def _days(home: RealHome) -> float:
    return (home.observations[-1].at - home.observations[0].at).total_seconds() / 86400


def cut_times(home: RealHome, injections: int, seed: int) -> list[datetime]:
    """The injection times t0 of one home: uniform after a warm-up of min(7 d, a third of the
    recording), ending 12 h before the recording does."""
    first, last = home.observations[0].at, home.observations[-1].at
    warm = min(timedelta(days=7), (last - first) / 3)
    rng = random.Random(f"{seed}:{home.name}")
    lo, hi = (first + warm).timestamp(), (last - timedelta(hours=12)).timestamp()
    return sorted(datetime.fromtimestamp(rng.uniform(lo, hi), first.tzinfo) for _ in range(injections))


def evaluate_home(home: RealHome, pack: RulePack, injections: int, seed: int) -> dict[str, object]:
    """Ordinary life (all high alerts are false) and injected incapacitation, in one pass."""
    spec = _spec(home)
    obs = home.observations
    cuts = cut_times(home, injections, seed)
    engine = Engine(pack, default_timezone=home.timezone)
    engine.configure([spec])
    false_alerts: list[Finding] = []
    latencies: list[float | None] = []
    ci = 0

    def fork(t0: datetime) -> None:
        false_alerts.extend(f for f in engine.advance(t0) if f.severity.rank >= HIGH)
        clone = Engine(pack, default_timezone=home.timezone)
        clone.configure([spec])
        clone.restore(spec.household_id, engine.snapshot(spec.household_id))
        clone.advance(t0)
        found = [f for f in clone.advance(t0 + HORIZON) if f.severity.rank >= HIGH and f.at > t0]
        latencies.append((found[0].at - t0).total_seconds() / 3600 if found else None)

    for o in obs:
        while ci < len(cuts) and cuts[ci] <= o.at:
            fork(cuts[ci])
            ci += 1
        false_alerts.extend(f for f in engine.advance(o.at) if f.severity.rank >= HIGH)
        false_alerts.extend(f for f in engine.observe(o) if f.severity.rank >= HIGH)
    while ci < len(cuts):
        fork(cuts[ci])
        ci += 1
    detected = [x for x in latencies if x is not None]
    settled = obs[0].at + SETTLED
    return {
        "days": _days(home),
        "false": len(false_alerts),
        # After the first two weeks (the learned routine settled): days and false alerts.
        "settled_days": max(0.0, (obs[-1].at - settled).total_seconds() / 86400),
        "settled_false": sum(1 for f in false_alerts if f.at >= settled),
        "false_by_rule": Counter(f.rule.value for f in false_alerts),
        "latencies": latencies,
        "mean_h": statistics.fmean(detected) if detected else float("nan"),
        # Missed within the 24 h horizon counts as 24 h in the censored mean.
        "mean_censored_h": statistics.fmean(x if x is not None else 24.0 for x in latencies),
        "within12": sum(1 for x in detected if x <= 12) / len(latencies),
    }


def real_homes(injections: int, seed: int) -> dict[str, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, dict[str, object]]] = defaultdict(dict)
    packs = {name: load_pack(path) for name, path in PACKS.items()}
    for home in load_homes():
        for name, pack in packs.items():
            results[home.name][name] = evaluate_home(home, pack, injections, seed)
    return results


def print_real(results: dict[str, dict[str, dict[str, object]]]) -> None:
    print("\n## Real homes: ordinary life and injected incapacitation (learned | fixed baseline)\n")
    print(
        "| home | days | false high/day learned | fixed | mean detection h learned | fixed "
        "| within 12 h learned | fixed | false alerts by rule (learned) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    tot: dict[str, list[float]] = defaultdict(list)
    for home, by_pack in results.items():
        lr, fx = by_pack["learned"], by_pack["fixed"]
        days = float(lr["days"])  # type: ignore[arg-type]
        print(
            f"| {home} | {days:.1f} | {int(lr['false']) / days:.3f} | {int(fx['false']) / days:.3f} "
            f"| {lr['mean_h']:.2f} | {fx['mean_h']:.2f} | {lr['within12']:.0%} | {fx['within12']:.0%} "
            f"| {dict(lr['false_by_rule'])} |"
        )  # type: ignore[call-overload]
        for name, r in by_pack.items():
            tot[f"{name}_false"].append(float(r["false"]))  # type: ignore[arg-type]
            tot[f"{name}_days"].append(days)
            tot[f"{name}_lat"].extend(x for x in r["latencies"] if x is not None)  # type: ignore[attr-defined]
            tot[f"{name}_n"].append(len(r["latencies"]))  # type: ignore[arg-type]
            tot[f"{name}_w12"].append(sum(1 for x in r["latencies"] if x is not None and x <= 12))  # type: ignore[attr-defined]
            tot[f"{name}_sfalse"].append(float(r["settled_false"]))  # type: ignore[arg-type]
            tot[f"{name}_sdays"].append(float(r["settled_days"]))  # type: ignore[arg-type]
    print(
        "| **all** | {:.1f} | **{:.3f}** | {:.3f} | **{:.2f}** | {:.2f} | **{:.1%}** | {:.1%} | |".format(
            sum(tot["learned_days"]),
            sum(tot["learned_false"]) / sum(tot["learned_days"]),
            sum(tot["fixed_false"]) / sum(tot["fixed_days"]),
            statistics.fmean(tot["learned_lat"]),
            statistics.fmean(tot["fixed_lat"]),
            sum(tot["learned_w12"]) / sum(tot["learned_n"]),
            sum(tot["fixed_w12"]) / sum(tot["fixed_n"]),
        )
    )
    print("\nTargets: <= 0.05 false high alerts per home-day; mean detection <= 3 h; >= 97% within 12 h.")
    print(
        "\nAfter each home's first 14 days (routine learned), on the {:.1f} home-days that follow: "
        "false high alerts per home-day learned {:.3f} ({:.0f}), fixed {:.3f} ({:.0f}).".format(
            sum(tot["learned_sdays"]),
            sum(tot["learned_sfalse"]) / max(sum(tot["learned_sdays"]), 1e-9),
            sum(tot["learned_sfalse"]),
            sum(tot["fixed_sfalse"]) / max(sum(tot["fixed_sdays"]), 1e-9),
            sum(tot["fixed_sfalse"]),
        )
    )


def simulated(days: int, households: int, seed: int) -> None:
    print(f"\n## Simulated fleet ({households} homes x {days} days, seed {seed})\n")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "anju.cli",
            "simulate",
            "--out",
            tmp,
            "--days",
            str(days),
            "--households",
            str(households),
            "--seed",
            str(seed),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        out = Path(tmp)
        if proc.returncode != 0 or not (out / "events.csv").exists():
            reason = proc.stderr.strip().splitlines()[-1:]
            print(f"PENDING: `anju simulate --out` is not available yet ({reason})")
            return
        truth = [json.loads(line) for line in (out / "truth.jsonl").read_text().splitlines() if line.strip()]
        fleet = load_fleet(out / "fleet.json") if (out / "fleet.json").exists() else []
        print("| pack | kind | incidents | recall | mean latency min | p95 latency min |")
        print("|---|---|---|---|---|---|")
        for name, path in PACKS.items():
            engine = Engine(load_pack(path))
            engine.configure(fleet)
            findings: list[Finding] = []
            with (out / "events.csv").open(encoding="utf-8", newline="") as fh:
                last = None
                for o in read_events(fh):
                    if last is None or o.at > last:
                        last = o.at
                        findings += engine.advance(o.at)
                    findings += engine.observe(o)
            if last is not None:
                findings += engine.advance(last + timedelta(hours=1))
            _score(name, truth, findings, days, households)


def _score(name: str, truth: list[dict[str, object]], findings: list[Finding], days: int, homes: int) -> None:
    by_home: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_home[f.household_id].append(f)
    used: set[int] = set()
    per_kind: dict[str, list[float | None]] = defaultdict(list)
    for inc in truth:
        start = parse_ts(str(inc["start"]))
        end = parse_ts(str(inc["end"])) if inc.get("end") else start + timedelta(hours=24)
        # Device clocks may run up to 5 min off (the contract's tolerance): an event stamped by a
        # slow clock lands before the true start.
        match = [
            f
            for f in by_home[str(inc["household_id"])]
            if start - CLOCK_TOLERANCE <= f.at <= max(end, start + timedelta(hours=24))
        ]
        match = [
            f
            for f in match
            # Device health is low by design (the installers' list, not the 7x24 queue): any severity.
            if f.severity.rank >= Severity.MEDIUM.rank or inc["kind"] in ("device_dead", "tamper")
        ]
        if inc["kind"] == "button":
            match = [f for f in match if f.rule.value == "button"]
        for f in match:
            used.add(id(f))
        per_kind[str(inc["kind"])].append((match[0].at - start).total_seconds() / 60 if match else None)
    for kind, lats in sorted(per_kind.items()):
        found = sorted(x for x in lats if x is not None)
        p95 = found[max(0, math.ceil(0.95 * len(found)) - 1)] if found else float("nan")  # nearest rank
        mean = statistics.fmean(found) if found else float("nan")
        print(f"| {name} | {kind} | {len(lats)} | {len(found) / len(lats):.0%} | {mean:.1f} | {p95:.1f} |")
    false = [f for f in findings if id(f) not in used and f.severity.rank >= HIGH]
    by_rule = dict(Counter(f.rule.value for f in false).most_common())
    rate = len(false) / (days * homes)
    print(f"| {name} | false high/critical per home-day | | | {rate:.3f} | {by_rule} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--injections", type=int, default=60, help="injected incapacitations per home")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sim-days", type=int, default=14)
    ap.add_argument("--sim-households", type=int, default=40)
    ap.add_argument("--skip-sim", action="store_true")
    args = ap.parse_args()
    print_real(real_homes(args.injections, args.seed))
    if not args.skip_sim:
        simulated(args.sim_days, args.sim_households, args.seed)


if __name__ == "__main__":
    main()
