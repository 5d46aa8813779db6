"""The reports page's chart series, built from the dispatch SLA report and its incident rows.

Every figure a supervisor reads on the page comes from ``anju.dispatch.sla``, the same code that
answers ``GET /api/v1/reports/sla`` and writes the CSV/XLSX exports: the console computes nothing of
its own, so the screen and the spreadsheet can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from anju.console.charts import AckPoint
from anju.dispatch.sla import INCIDENT_COLUMNS
from anju.domain import Outcome, Rule, Severity


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One row of the SLA report's incident sheet, typed."""

    id: int
    rule: str
    severity: str
    opened_at: datetime
    acknowledge_s: float | None


def incident_rows(raw: Iterable[Sequence[Any]]) -> list[IncidentRow]:
    """``sla.incident_rows`` (the XLSX export's sheet) as typed rows."""
    rows = []
    for values in raw:
        row = dict(zip(INCIDENT_COLUMNS, values, strict=True))
        rows.append(
            IncidentRow(
                id=int(row["id"]),
                rule=str(row["rule"]),
                severity=str(row["severity"]),
                opened_at=datetime.fromisoformat(str(row["opened_at"])),
                acknowledge_s=None if row["acknowledge_s"] is None else float(row["acknowledge_s"]),
            )
        )
    return rows


def ack_points(rows: Sequence[IncidentRow]) -> list[AckPoint]:
    """One bar per critical incident: the population of the report's 60 s / 180 s shares."""
    return [
        AckPoint(r.id, r.opened_at, r.acknowledge_s) for r in rows if r.severity == Severity.CRITICAL.value
    ]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def rule_weeks(
    rows: Sequence[IncidentRow], *, since: datetime, until: datetime, tz: ZoneInfo
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
    rules += sorted({r.rule for r in rows} - set(rules))
    series: dict[str, list[int]] = {r: [0] * len(weeks) for r in rules}
    for row in rows:
        w = index.get(week_start(row.opened_at.astimezone(tz).date()))
        if w is not None:
            series[row.rule][w] += 1
    return [w.strftime("%m-%d") for w in weeks], [(r, series[r]) for r in rules]


def outcome_counts(report: dict[str, Any]) -> list[tuple[str | None, int]]:
    """The report's counts by outcome in the fixed order; ``None`` counts incidents without one yet."""
    by_outcome: dict[str, int] = report["by_outcome"]
    order = [o.value for o in Outcome] + sorted(k for k in by_outcome if k not in {o.value for o in Outcome})
    rows: list[tuple[str | None, int]] = [(o, by_outcome[o]) for o in order if by_outcome.get(o)]
    pending = int(report["incidents"]) - sum(by_outcome.values())
    if pending > 0:
        rows.append((None, pending))
    return rows
