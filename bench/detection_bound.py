"""What any detector could reach on the real homes: a lower bound on the detection benchmark.

The argument. A cut at t0 removes every event after t0. If t0 falls inside an ordinary silence
[s, s + L) of the recording (s the last event before t0, s + L the next one), the cut history and the
real history are the same up to s + L. Any causal detector -- one that decides from the events it has
seen, whatever its rules, learning or thresholds -- that raises a high alert for the cut before s + L
raises the same alert, at the same instant, on ordinary life: one false alert in that silence. So for
every silence of the recording a detector either spends one false alert on it (then its cuts can be
found at once, latency >= 0), or finds none of its cuts before s + L (latency >= s + L - t0).

With a budget of B false alerts, the best any detector can do is to spend them on the B silences where
they buy the most. This script computes that optimum for the very cuts of ``bench/detection.py`` (same
seed, same sampling) and for a dense sampling, and prints the frontier: the best share of cuts found
within 12 h and the best mean detection time for each budget of false alerts per home-day. An oracle
that knows the future and spends its budget perfectly reaches the frontier; Anju's rules, which do not
know the future, are above it.

    python bench/detection_bound.py [--injections 60] [--seed 7] [--dense 2000]
"""

from __future__ import annotations

import argparse
import bisect
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from anju.domain import DeviceKind
from anju.engine.learn import ENTRANCE, LOCATIONS, location_class
from datasets import RealHome, load_homes
from detection import cut_times

TARGET_FALSE = 0.05
TARGET_WITHIN = 0.97
TARGET_MEAN_H = 3.0
WITHIN_H = 12.0
HORIZON_H = 24.0


@dataclass(frozen=True)
class Cut:
    home: str
    silence: int  # index of the silence (gap between two events) that holds t0
    latency_h: float  # earliest detection a non-spending detector can have: next real event - t0


def cuts_of(home: RealHome, injections: int, seed: int) -> list[Cut]:
    times = [o.at.timestamp() for o in home.observations]
    out: list[Cut] = []
    for t0 in cut_times(home, injections, seed):
        i = bisect.bisect_right(times, t0.timestamp())  # first event strictly after t0
        nxt = times[i] if i < len(times) else float("inf")
        out.append(Cut(home.name, i, (nxt - t0.timestamp()) / 3600))
    return out


def best_within(cuts: list[Cut], budget: int) -> tuple[float, list[tuple[str, int]]]:
    """Highest share of cuts found within 12 h when ``budget`` silences may be alerted on."""
    late: dict[tuple[str, int], int] = defaultdict(int)
    for c in cuts:
        if c.latency_h > WITHIN_H:
            late[(c.home, c.silence)] += 1
    ranked = sorted(late.items(), key=lambda kv: -kv[1])
    spent = ranked[:budget]
    missed = sum(n for _, n in ranked[budget:])
    return 1 - missed / len(cuts), [k for k, _ in spent]


def best_mean(cuts: list[Cut], budget: int) -> float:
    """Lowest mean detection time (over detected cuts) with ``budget`` alerted silences, when every
    cut that can be found within 12 h is found (as the 97 % target needs): Dinkelbach's method on the
    ratio, exact because the inner problem (pick the ``budget`` best silences) is solved exactly."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for c in cuts:
        groups[(c.home, c.silence)].append(c.latency_h)
    base_sum = sum(x for c in cuts if (x := c.latency_h) <= WITHIN_H)
    base_n = sum(1 for c in cuts if c.latency_h <= WITHIN_H)
    r = base_sum / base_n if base_n else 0.0
    for _ in range(100):
        # Spending on a silence: its cuts found within 12 h drop to 0 h; its later cuts join at 0 h.
        gain = sorted(
            (sum(x for x in lat if x <= WITHIN_H) + r * sum(1 for x in lat if x > WITHIN_H), key)
            for key, lat in groups.items()
        )
        chosen = [key for _, key in gain[-budget:]] if budget else []
        s, n = base_sum, base_n
        for key in chosen:
            lat = groups[key]
            s -= sum(x for x in lat if x <= WITHIN_H)
            n += sum(1 for x in lat if x > WITHIN_H)
        new_r = s / n if n else 0.0
        if abs(new_r - r) < 1e-12:
            break
        r = new_r
    return r


def frontier(homes: list[RealHome], injections: int, seed: int, label: str) -> None:
    days = sum((h.observations[-1].at - h.observations[0].at).total_seconds() / 86400 for h in homes)
    cuts = [c for h in homes for c in cuts_of(h, injections, seed)]
    print(f"\n## {label}: {len(cuts)} cuts in {days:.1f} home-days\n")
    print("| false alerts per home-day (budget) | best share within 12 h | best mean detection h |")
    print("|---|---|---|")
    budgets = sorted({int(TARGET_FALSE * days), 10, 20, 40, 60, 120})
    for b in budgets:
        within, _ = best_within(cuts, b)
        mean = best_mean(cuts, b)
        mark = " (target)" if b == int(TARGET_FALSE * days) else ""
        print(f"| {b / days:.3f} ({b}){mark} | {within:.1%} | {mean:.2f} |")
    need = next((b for b in range(0, 10_000) if best_within(cuts, b)[0] >= TARGET_WITHIN), None)
    if need is not None:
        print(
            f"\nFinding {TARGET_WITHIN:.0%} of these cuts within 12 h takes at least {need} false alert(s) "
            f"({need / days:.3f} per home-day); the target allows {int(TARGET_FALSE * days)}."
        )
    per_home: dict[str, list[Cut]] = defaultdict(list)
    for c in cuts:
        per_home[c.home].append(c)
    print("\n| home | cuts | found within 12 h with no false alert | silences > 12 h holding cuts |")
    print("|---|---|---|---|")
    for name, hc in per_home.items():
        within0, _ = best_within(hc, 0)
        long = len({c.silence for c in hc if c.latency_h > WITHIN_H})
        print(f"| {name} | {len(hc)} | {within0:.1%} | {long} |")


#: Thresholds a table may pick from: every quarter hour up to 24 h.
GRID_H = np.arange(0.25, 24.001, 0.25)


@dataclass(frozen=True)
class Choice:
    """One cell of a threshold table (a home, the place and time slot of the last sign of life) and
    every option it may take (one threshold, or a threshold and a second alert later): per option its
    false alerts, and for the cell's cuts the summed latency, the count detected within the 24 h
    horizon and the count detected within 12 h."""

    false: np.ndarray
    latency_sum: np.ndarray
    detected: np.ndarray
    within: np.ndarray


def _segment(e: np.ndarray, prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Count and sum of the sorted elapsed times ``e`` in (lo, hi], element-wise."""
    a = np.searchsorted(e, lo, side="right")
    b = np.searchsorted(e, hi, side="right")
    b = np.maximum(a, b)
    return b - a, prefix[b] - prefix[a]


def _options(length: np.ndarray, e: np.ndarray, second_alert: bool) -> Choice:
    """Alert at T1 after the last sign of life (and, with ``second_alert``, again at T2 > T1, or
    never). An ordinary silence longer than an alert time is one false alert per alert it reaches. A
    cut whose silence is at e <= T1 at t0 is found at T1; at T1 < e <= T2 at T2; later, never (the
    alerts came before t0, in both histories); found beyond the 24 h horizon counts as missed."""
    n = len(GRID_H)
    if second_alert:
        i1, i2 = np.triu_indices(n, k=1)
        t1 = np.concatenate([GRID_H, GRID_H[i1]])
        t2 = np.concatenate([np.full(n, np.inf), GRID_H[i2]])
    else:
        t1, t2 = GRID_H, np.full(n, np.inf)
    ls = np.sort(length)
    false = 2 * len(ls) - np.searchsorted(ls, t1, side="right") - np.searchsorted(ls, t2, side="right")
    e = np.sort(e)
    prefix = np.concatenate([[0.0], np.cumsum(e)])
    total = np.zeros(len(t1))
    det = np.zeros(len(t1))
    within = np.zeros(len(t1))
    for lo, t in ((np.full(len(t1), -1.0), t1), (t1, t2)):
        finite = np.isfinite(t)
        tt = np.where(finite, t, 0.0)
        c, sm = _segment(e, prefix, np.maximum(lo, tt - HORIZON_H - 1e-9), tt)
        c = np.where(finite, c, 0)
        sm = np.where(finite, sm, 0.0)
        total += c * tt - sm
        det += c
        w, _ = _segment(e, prefix, np.maximum(lo, tt - WITHIN_H - 1e-9), tt)
        within += np.where(finite, w, 0)
    return Choice(false=false, latency_sum=total, detected=det, within=within)


def table_cells(
    homes: list[RealHome], injections: int, seed: int, bucket_min: int, second_alert: bool
) -> tuple[list[Choice], int, float]:
    cells: list[Choice] = []
    n_cuts, days = 0, 0.0
    for home in homes:
        obs = home.observations
        times = [o.at.timestamp() for o in obs]
        days += (times[-1] - times[0]) / 86400

        rooms = home.locations
        # Location class and time slot (the home's local time) of each event.
        cls = [
            (
                ENTRANCE if o.kind is DeviceKind.DOOR else location_class(rooms.get(o.device_id, "")),
                (o.at.hour * 60 + o.at.minute) // bucket_min,
            )
            for o in obs
        ]
        silences: dict[tuple[int, int], list[float]] = defaultdict(list)
        elapsed: dict[tuple[int, int], list[float]] = defaultdict(list)
        for i in range(len(obs) - 1):
            silences[cls[i]].append((times[i + 1] - times[i]) / 3600)
        for t0 in cut_times(home, injections, seed):
            i = bisect.bisect_right(times, t0.timestamp()) - 1
            elapsed[cls[i]].append((t0.timestamp() - times[i]) / 3600)
            n_cuts += 1
        for key in set(silences) | set(elapsed):
            cells.append(_options(np.asarray(silences[key]), np.asarray(elapsed[key]), second_alert))
    return cells, n_cuts, days


def table_bound(cells: list[Choice], budget: int, mean_h: float, nus: list[float]) -> float:
    """Upper bound on the count of cuts any threshold table can find within 12 h with at most
    ``budget`` false alerts and a mean detection time <= ``mean_h``: for each multiplier nu >= 0 of the
    mean constraint (written sum(latency) - mean_h * detected <= 0), an exact dynamic programme over
    the false-alert budget; by weak duality every nu bounds the optimum, the smallest is kept."""
    best = float("inf")
    for nu in nus:
        # value[b] = best sum of (within - nu * (latency - mean_h * detected)) using b false alerts.
        value = np.full(budget + 1, -np.inf)
        value[0] = 0.0
        for c in cells:
            score = c.within - nu * (c.latency_sum - mean_h * c.detected)
            ok = c.false <= budget
            top = np.full(budget + 1, -np.inf)
            np.maximum.at(top, c.false[ok], score[ok])
            nxt = np.full(budget + 1, -np.inf)
            for f in np.flatnonzero(np.isfinite(top)):
                nxt[f:] = np.maximum(nxt[f:], value[: budget + 1 - f] + top[f])
            value = nxt
        best = min(best, float(value.max()))
    return best


def threshold_tables(homes: list[RealHome], injections: int, seed: int, bucket_min: int) -> None:
    days = sum((h.observations[-1].at - h.observations[0].at).total_seconds() / 86400 for h in homes)
    budget = int(TARGET_FALSE * days)
    nus = [0.0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0]
    print(
        f"\n## Threshold tables fitted on the test data itself ({injections} cuts per home)\n\n"
        f"A table gives each home, for each place ({len(LOCATIONS)} classes) and {bucket_min}-minute slot of "
        "the day of the last sign of life, the time of a first alert (and, in the second column, of a "
        "second alert if the silence goes on), each chosen knowing the whole recording and every cut: "
        "the best any learned silence threshold of that form could do. Upper bounds on the share of "
        "cuts found within 12 h, under a budget of false alerts and a mean detection time:\n"
    )
    tables = {flag: table_cells(homes, injections, seed, bucket_min, flag) for flag in (False, True)}
    print("| false alerts (budget) | mean detection at most | one alert per silence | up to two alerts |")
    print("|---|---|---|---|")
    for b in (budget, 2 * budget, 4 * budget, 12 * budget):
        for m in (TARGET_MEAN_H, 4.5):
            shares = [min(table_bound(cells, b, m, nus) / n, 1.0) for cells, n, _ in tables.values()]
            print(f"| {b} ({b / days:.3f} per home-day) | {m:.1f} h | {shares[0]:.1%} | {shares[1]:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--injections", type=int, default=60, help="cuts per home, as bench/detection.py")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dense", type=int, default=2000, help="cuts per home for the dense sampling")
    ap.add_argument(
        "--slot-min", type=int, default=60, help="minutes per time-of-day slot of the threshold tables"
    )
    args = ap.parse_args()
    if args.injections < 1 or args.dense < 0 or not 1 <= args.slot_min <= 1440:
        ap.error("--injections must be >= 1, --dense >= 0, --slot-min within 1..1440")
    homes = load_homes()
    frontier(homes, args.injections, args.seed, f"The cuts of bench/detection.py (seed {args.seed})")
    if args.dense:
        frontier(homes, args.dense, args.seed, f"Dense sampling ({args.dense} cuts per home)")
        threshold_tables(homes, args.dense, args.seed, args.slot_min)


if __name__ == "__main__":
    main()
