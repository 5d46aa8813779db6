"""The bound of ``bench/detection_bound.py`` with check-ins: what asking the resident first can buy.

With check-ins, a detector that interrupts a silence spends a check-in, not a page: a well resident
answers (probability ``a``, 0.85 at home in the answer model), else the page reaches an operator.
An incapacitated resident never answers, so every cut is found one window (10 min) later than the
interruption. So each frontier of the bound carries over: a budget of C interrupted silences is
C check-ins, about (1 - a) C operator-facing false alerts, and the same cuts found, 10 min later.
The night limit on check-ins is not applied to the oracle (it only makes the oracle better).
"""

from __future__ import annotations

from datasets import RealHome
from detection_bound import best_mean, best_within, cuts_of

ANSWER = 0.85
WINDOW_H = 10 / 60
TARGET_CHECKINS, TARGET_FALSE, TARGET_MEAN_H, TARGET_WITHIN = 0.3, 0.05, 2.5, 0.98


def checkin_frontier(homes: list[RealHome], injections: int, seed: int) -> None:
    days = sum((h.observations[-1].at - h.observations[0].at).total_seconds() / 86400 for h in homes)
    cuts = [c for h in homes for c in cuts_of(h, injections, seed)]
    print(f"\n## With check-ins: an oracle's check-ins ({len(cuts)} cuts, {days:.1f} home-days)\n")
    print("| check-ins per home-day (budget) | operator-facing false per home-day | within 12 h | mean h |")
    print("|---|---|---|---|")
    for b in sorted({5, 10, int(TARGET_CHECKINS * days), 60, 120, 240}):
        mark = " (target)" if b == int(TARGET_CHECKINS * days) else ""
        false = (1 - ANSWER) * b / days
        print(
            f"| {b / days:.3f} ({b}){mark} | {false:.3f} | {best_within(cuts, b):.1%} "
            f"| {best_mean(cuts, b) + WINDOW_H:.2f} |"
        )


def checkin_tables(rows: list[tuple[int, float, float, str]], days: float) -> None:
    """The threshold tables fitted on alternate days (judged on the others), as check-in rules."""
    print(
        "\n## With check-ins: the tables fitted on alternate days as check-in rules\n\n"
        "| fit | check-ins per home-day | operator-facing false per home-day | within 12 h | mean h |\n"
        "|---|---|---|---|---|"
    )
    for false, within, mean, fit in rows:
        c = false / days
        print(f"| {fit} | {c:.3f} | {(1 - ANSWER) * c:.3f} | {within:.1%} | {mean + WINDOW_H:.2f} |")
    ok = [r for r in rows if r[0] / days <= TARGET_CHECKINS]
    if ok:
        best = min(ok, key=lambda r: r[2])
        print(
            f"\nFastest table within {TARGET_CHECKINS} check-ins per home-day: "
            f"{best[0] / days:.3f} check-ins, "
            f"{best[1]:.1%} within 12 h, mean {best[2] + WINDOW_H:.2f} h (fit {best[3]})."
        )
