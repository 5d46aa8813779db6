"""The reports page's figures and chart series, computed from the incidents of a period."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from anju.console.charts import AckPoint
from anju.domain import Outcome, Rule, Severity
from anju.store.models import Incident

STAGES = (
    ("acknowledge", "acknowledged_at"),
    ("dispatch", "dispatched_at"),
    ("arrive", "arrived_at"),
    ("close", "closed_at"),
)


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    count: int
    median: float | None
    p90: float | None
    max: float | None


@dataclass
class Summary:
    total: int
    critical: int
    within_60_pct: float | None
    within_180_pct: float | None
    stages: list[Stage] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): always one of the measured values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


def summarize(incidents: Sequence[Incident], *, now: datetime) -> Summary:
    stages = []
    for name, attr in STAGES:
        values = [s for i in incidents if (s := _seconds(i.opened_at, getattr(i, attr))) is not None]
        median = percentile(values, 50)
        stages.append(Stage(name, len(values), median, percentile(values, 90), max(values, default=None)))
    critical = [i for i in incidents if i.severity == Severity.CRITICAL.value]

    def share(limit: float) -> float | None:
        # An incident still inside its window and unacknowledged is neither a hit nor a miss yet.
        judged = [
            i
            for i in critical
            if i.acknowledged_at is not None or (now - i.opened_at).total_seconds() > limit
        ]
        if not judged:
            return None
        hits = sum(
            1 for i in judged if (s := _seconds(i.opened_at, i.acknowledged_at)) is not None and s <= limit
        )
        return 100.0 * hits / len(judged)

    return Summary(len(incidents), len(critical), share(60), share(180), stages)


def ack_points(incidents: Sequence[Incident]) -> list[AckPoint]:
    return [
        AckPoint(i.id, i.opened_at, _seconds(i.opened_at, i.acknowledged_at))
        for i in incidents
        if i.severity == Severity.CRITICAL.value
    ]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def rule_weeks(
    incidents: Sequence[Incident], *, since: datetime, until: datetime, tz: ZoneInfo
) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Monday labels and, per rule (contract order, then unknown ones), the count per week."""
    first = week_start(since.astimezone(tz).date())
    last = week_start((until - timedelta(microseconds=1)).astimezone(tz).date())
    weeks: list[date] = []
    cur = first
    while cur <= last and len(weeks) < 60:
        weeks.append(cur)
        cur += timedelta(days=7)
    index = {w: n for n, w in enumerate(weeks)}
    rules = [r.value for r in Rule]
    rules += sorted({i.rule for i in incidents} - set(rules))
    series: dict[str, list[int]] = {r: [0] * len(weeks) for r in rules}
    for inc in incidents:
        w = index.get(week_start(inc.opened_at.astimezone(tz).date()))
        if w is not None:
            series[inc.rule][w] += 1
    return [w.strftime("%m-%d") for w in weeks], [(r, series[r]) for r in rules]


def outcome_counts(incidents: Sequence[Incident]) -> list[tuple[str | None, int]]:
    """Counts per outcome in the fixed list's order; ``None`` counts incidents without one yet."""
    counts = Counter(i.outcome for i in incidents)
    order: list[str | None] = [o.value for o in Outcome]
    order += sorted(k for k in counts if k is not None and k not in order)
    rows: list[tuple[str | None, int]] = [(o, counts.get(o, 0)) for o in order if counts.get(o, 0)]
    if counts.get(None):
        rows.append((None, counts[None]))
    return rows
