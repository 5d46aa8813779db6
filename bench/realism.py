"""Compare simulated homes with real recordings: events, silent gaps, nights, time away, door use."""

from __future__ import annotations

import argparse
import bisect
import csv
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
        return sum(1 for m in marks[bisect.bisect_left(times, lo) : bisect.bisect_left(times, hi)] if m.kind in kinds)

    out: dict[str, float] = {}
    out["events/day"] = _median([count({"motion", "door", "entry"}, d, d + 86400) for d in days])
    out["night events (00-05)"] = _median([count({"motion", "entry"}, d, d + 5 * 3600) for d in days])
    if home.has_door:
        out["door events/day"] = _median([count({"door"}, d, d + 86400) for d in days])
    else:
        out["door events/day"] = float("nan")

    gaps_by_part: dict[str, list[float]] = defaultdict(list)
    act_t = [m.t for m in activity]
    for a, b in zip(act_t, act_t[1:], strict=False):
        hour = int((a % 86400) // 3600)
        for name, lo, hi in DAY_PARTS:
            if lo <= hour < hi:
                gaps_by_part[name].append((b - a) / 60.0)
    for name, _lo, _hi in DAY_PARTS:
        out[f"p90 gap {name} (min)"] = _percentile(gaps_by_part[name], 0.9)

    # Outings: silences that start and end next to a door (or entry) event.
    away: dict[int, float] = defaultdict(float)
    for a, b in zip(times, times[1:], strict=False):
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
