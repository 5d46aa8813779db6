"""Compare simulated homes with real recordings: events, silent gaps, nights, time away, door use."""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
#: A kit PIR ignores motion for this long after it reported some; real ON streams are thinned alike.
BLIND_S = 60.0
#: A silence this long that starts and ends at the front door is an outing.
AWAY_MIN_S = 30 * 60
DOOR_NEAR_S = 180.0
DAY_PARTS = (("00-06", 0, 6), ("06-12", 6, 12), ("12-18", 12, 18), ("18-24", 18, 24))


@dataclass(frozen=True, slots=True)
class Mark:
    """One kit-like observation in local time: indoor activity, or the front door (``door``)."""

    t: float  # seconds since 1970-01-01 00:00 local time
    kind: str  # "motion" | "door" | "entry" (entry motion where a home has no door contact)
    sensor: str


@dataclass
class Home:
    name: str
    marks: list[Mark]
    has_door: bool


def _local_seconds(dt: datetime) -> float:
    return (dt - datetime(1970, 1, 1)).total_seconds()


def thin(marks: Iterable[Mark]) -> list[Mark]:
    """Apply the PIR re-trigger blind time per sensor, as a kit sensor would."""
    last: dict[str, float] = {}
    out: list[Mark] = []
    for m in sorted(marks, key=lambda m: m.t):
        if m.kind != "door":
            prev = last.get(m.sensor)
            if prev is not None and m.t - prev < BLIND_S:
                continue
            last[m.sensor] = m.t
        out.append(m)
    return out


# --- real homes -------------------------------------------------------------------------------


def load_casas_al(root: Path = DATASETS) -> Home:
    marks: list[Mark] = []
    with open(root / "casas_al_smarthome_sample" / "data", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5:
                continue
            when = datetime.fromisoformat(f"{parts[0]} {parts[1]}")
            sensor, value = parts[3], parts[4]
            if sensor == "FrontDoor":
                marks.append(Mark(_local_seconds(when), "door", sensor))
            elif value == "ON" and not sensor.endswith("Light") and sensor != "Closet":
                marks.append(Mark(_local_seconds(when), "motion", sensor))
    return Home("CASAS AL", thin(marks), has_door=True)


def load_cil_tm000(root: Path = DATASETS) -> Home:
    marks: list[Mark] = []
    with open(root / "casas_cil_tm000" / "tm000.multiday_absence.txt", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[2] != "ON":
                continue
            when = datetime.fromisoformat(parts[0])
            kind = "entry" if parts[1] in ("MainEntryway", "EntrywayB") else "motion"
            marks.append(Mark(_local_seconds(when), kind, parts[1]))
    return Home("CIL tm000", thin(marks), has_door=False)


def load_vankasteren_c(root: Path = DATASETS) -> Home:
    marks: list[Mark] = []
    path = root / "vankasteren_2010_houses_ABC" / "derived_csv" / "houseC_sensor_events.csv"
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            start = _local_seconds(datetime.fromisoformat(row["start_time"]))
            end = _local_seconds(datetime.fromisoformat(row["end_time"]))
            label = row["sensor_label_original"]
            if label.startswith("voordeur"):
                marks.append(Mark(start, "door", "frontdoor"))
                marks.append(Mark(end, "door", "frontdoor"))
            else:
                marks.append(Mark(start, "motion", row["sensor_id"]))
    return Home("vK house C", thin(marks), has_door=True)


REAL_LOADERS = (load_casas_al, load_cil_tm000, load_vankasteren_c)


# --- figures ----------------------------------------------------------------------------------


def _days(marks: Sequence[Mark]) -> list[float]:
    """Start of each whole local day covered (first and last partial days dropped)."""
    first = int(marks[0].t // 86400) + 1
    last = int(marks[-1].t // 86400)
    return [d * 86400.0 for d in range(first, last)]


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(home: Home) -> dict[str, float]:
    """One home's figures: medians over its whole days."""
    marks = home.marks
    times = [m.t for m in marks]
    days = _days(marks)
    activity = [m for m in marks if m.kind != "door"]
    door_times = [m.t for m in marks if m.kind in ("door", "entry")]

    def count(kinds: set[str], lo: float, hi: float) -> int:
        return sum(
            1 for m in marks[bisect.bisect_left(times, lo) : bisect.bisect_left(times, hi)] if m.kind in kinds
        )

    out: dict[str, float] = {}
    out["events/day"] = _median([count({"motion", "door", "entry"}, d, d + 86400) for d in days])
    out["night events (00-05)"] = _median([count({"motion", "entry"}, d, d + 5 * 3600) for d in days])
    if home.has_door:
        out["door events/day"] = _median([count({"door"}, d, d + 86400) for d in days])
    else:
        out["door events/day"] = float("nan")

    gaps_by_part: dict[str, list[float]] = defaultdict(list)
    act_t = [m.t for m in activity]
    for a, b in itertools.pairwise(act_t):
        hour = int((a % 86400) // 3600)
        for name, lo, hi in DAY_PARTS:
            if lo <= hour < hi:
                gaps_by_part[name].append((b - a) / 60.0)
    for name, _lo, _hi in DAY_PARTS:
        out[f"p90 gap {name} (min)"] = _percentile(gaps_by_part[name], 0.9)

    # Outings: silences that start and end next to a door (or entry) event.
    away: dict[int, float] = defaultdict(float)
    for a, b in itertools.pairwise(times):
        if b - a < AWAY_MIN_S:
            continue
        if _near(door_times, a) and _near(door_times, b):
            _spread(away, a, b)
    out["hours away/day"] = _median([away.get(int(d // 86400), 0.0) / 3600.0 for d in days])
    return out


def _near(sorted_times: Sequence[float], t: float) -> bool:
    i = bisect.bisect_left(sorted_times, t - DOOR_NEAR_S)
    return i < len(sorted_times) and sorted_times[i] <= t + DOOR_NEAR_S


def _spread(per_day: dict[int, float], a: float, b: float) -> None:
    while a < b:
        day = int(a // 86400)
        cut = min(b, (day + 1) * 86400.0)
        per_day[day] += cut - a
        a = cut


# --- simulated homes --------------------------------------------------------------------------


def simulated_homes(households: int, days: int, seed: int, scenario_name: str = "routine") -> list[Home]:
    """Simulated homes as the server would see them: delivered, valid, deduplicated events."""
    from zoneinfo import ZoneInfo

    from anju.simulator import build_fleet, load_scenario
    from anju.simulator.devices import DUPLICATE, DeviceLayer
    from anju.simulator.household import HouseholdSim

    fleet = build_fleet(households, seed)
    scenario = load_scenario(scenario_name)
    homes: list[Home] = []
    for h in fleet.households:
        tz = ZoneInfo(h.timezone)
        start = datetime(2026, 11, 2, tzinfo=tz).timestamp()
        end = start + days * 86400
        sim = HouseholdSim(h, seed=seed, scenario=scenario, start=start, end=end)
        layer = DeviceLayer(h, seed=seed, faults=scenario.faults, start=start, end=end)
        marks = []
        for m in layer.messages(sim.events()):
            if not m.delivered or m.malformed or m.fault == DUPLICATE:
                continue
            if m.event not in ("motion", "open", "close"):
                continue
            at = m.server_time
            offset = datetime.fromtimestamp(at, tz).utcoffset() or timedelta(0)
            local = at + offset.total_seconds()
            marks.append(Mark(local, "door" if m.device.type == "door" else "motion", m.device.id))
        marks.sort(key=lambda m: m.t)
        homes.append(Home(f"{h.id} ({h.persona.name})", marks, has_door=True))
    return homes


def compare(real: list[Home], simulated: list[Home]) -> list[dict[str, object]]:
    """Each figure for each real home, the simulated median and spread, and the factor-2 check."""
    real_figs = [figures(h) for h in real]
    sim_figs = [figures(h) for h in simulated]
    table: list[dict[str, object]] = []
    for name in real_figs[0]:
        values = [f[name] for f in real_figs]
        known = [v for v in values if v == v]  # NaN: the home cannot tell (no door contact)
        sims = sorted(f[name] for f in sim_figs if f[name] == f[name])
        median = statistics.median(sims)
        lo, hi = min(known), max(known)
        table.append(
            {
                "figure": name,
                "real": values,
                "sim_median": median,
                "sim_p10": _percentile(sims, 0.1),
                "sim_p90": _percentile(sims, 0.9),
                "within": lo / 2 <= median <= hi * 2,
            }
        )
    return table


def _fmt(v: float) -> str:
    return "n/a" if v != v else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def render(real: list[Home], table: list[dict[str, object]], markdown: bool) -> str:
    heads = ["figure (median per day)", *(h.name for h in real), "simulated median (p10-p90)", "within x2"]
    rows = []
    for r in table:
        reals = [_fmt(v) for v in r["real"]]  # type: ignore[attr-defined]
        sim = f"{_fmt(r['sim_median'])} ({_fmt(r['sim_p10'])}-{_fmt(r['sim_p90'])})"  # type: ignore[arg-type]
        rows.append([str(r["figure"]), *reals, sim, "yes" if r["within"] else "NO"])
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [heads, *rows]) for i in range(len(heads))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [heads, *rows]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=60, help="simulated homes (default 60)")
    parser.add_argument("--days", type=int, default=28, help="simulated days (default 28)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="the real recordings")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    real = [load(args.datasets) for load in REAL_LOADERS]
    simulated = simulated_homes(args.households, args.days, args.seed)
    table = compare(real, simulated)
    print(render(real, table, args.markdown))
    failed = [str(r["figure"]) for r in table if not r["within"]]
    print(
        f"\n{len(simulated)} simulated homes x {args.days} days vs {len(real)} real homes; "
        f"kit-like events (PIR ON thinned to one a minute per sensor, front door open/close)."
    )
    print("all figures within a factor of 2 of the real range" if not failed else f"outside: {failed}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
