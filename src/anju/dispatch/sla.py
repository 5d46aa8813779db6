"""The SLA report: how fast the center answered, went and closed, and what it all amounted to.

Definitions (what a supervisor should know when reading the numbers):
- The window holds the incidents *opened* in ``[since, until)`` and the alerts raised in it.
- Every "time to X" runs from the incident's opening (the moment the alarm reached the center) to
  the first time it reached X; incidents that never reached X are left out of that figure.
- median: the middle value (mean of the two middle ones for an even count); p90: nearest rank, the
  smallest value with at least 90 % of the values at or below it; max: the largest.
- Acknowledged within 60 s / 180 s (the UK telecare code asks 97.5 % / 99 % of alarm calls): share of
  the window's *critical* incidents acknowledged within that time; an incident never acknowledged
  counts as not within once its time has passed (one still inside it is counted as pending).
  Severity is the incident's final one.
- A follow-up is done on time when it is marked done no later than its due time; overdue ones are
  neither done nor waived and past due at the end of the window (or now, if earlier).
- Real emergencies: outcomes assisted at home, taken to hospital, deceased.
- Check-ins (the resident asked before anyone is paged) are counted apart: opened in the window, and
  how each ended (well, help, unanswered, a sign of life, still calling); they are not incidents.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import isoformat
from anju.domain import Outcome, Severity
from anju.store.models import Alert, Checkin, Incident, Notification

REAL_EMERGENCIES = frozenset({Outcome.ASSISTED_AT_HOME, Outcome.TAKEN_TO_HOSPITAL, Outcome.DECEASED})
ACK_TARGETS_S = (60, 180)
MILESTONES = ("acknowledged", "dispatched", "arrived", "closed")


@dataclass(frozen=True)
class Stat:
    count: int
    median_s: float | None
    p90_s: float | None
    max_s: float | None


def summarize(values: list[float]) -> Stat:
    if not values:
        return Stat(0, None, None, None)
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return Stat(len(ordered), float(statistics.median(ordered)), float(p90), float(ordered[-1]))


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _on_time(done: datetime | None, due: datetime | None) -> bool:
    return done is not None and due is not None and done <= due


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


async def sla_report(
    session: AsyncSession, *, since: datetime, until: datetime, now: datetime
) -> dict[str, Any]:
    """The report as plain JSON-able data."""
    incidents = (
        await session.scalars(
            select(Incident)
            .where(Incident.opened_at >= since, Incident.opened_at < until)
            .order_by(Incident.opened_at, Incident.id)
        )
    ).all()
    alerts = (
        await session.execute(select(Alert.rule).where(Alert.raised_at >= since, Alert.raised_at < until))
    ).all()
    notes = (
        await session.execute(
            select(Notification.channel).where(
                Notification.created_at >= since, Notification.created_at < until
            )
        )
    ).all()

    times: dict[str, list[float]] = {m: [] for m in MILESTONES}
    for inc in incidents:
        for milestone in MILESTONES:
            value = _seconds(inc.opened_at, getattr(inc, f"{milestone}_at"))
            if value is not None:
                times[milestone].append(value)

    critical = [i for i in incidents if i.severity == Severity.CRITICAL.value]
    within: dict[str, Any] = {"critical_incidents": len(critical)}
    for target in ACK_TARGETS_S:
        # An unacknowledged incident still inside its window is neither a hit nor a miss yet.
        decided = [
            i
            for i in critical
            if i.acknowledged_at is not None or i.opened_at + timedelta(seconds=target) <= now
        ]
        n = sum(
            1 for i in decided if (s := _seconds(i.opened_at, i.acknowledged_at)) is not None and s <= target
        )
        within[f"within_{target}s"] = n
        within[f"pending_{target}s"] = len(critical) - len(decided)
        within[f"share_within_{target}s"] = _share(n, len(decided))

    cutoff = min(until, now)
    scheduled = [i for i in incidents if i.follow_up_due_at is not None]
    done = [i for i in scheduled if i.follow_up_done_at is not None]
    on_time = [i for i in done if _on_time(i.follow_up_done_at, i.follow_up_due_at)]
    waived = [i for i in scheduled if i.follow_up_waived_reason]
    pending = [i for i in scheduled if i.follow_up_done_at is None and not i.follow_up_waived_reason]
    overdue = [i for i in pending if i.follow_up_due_at is not None and i.follow_up_due_at < cutoff]

    outcomes = Counter(i.outcome for i in incidents if i.outcome)
    return {
        "since": isoformat(since),
        "until": isoformat(until),
        "incidents": len(incidents),
        "time_to": {m: summarize(times[m]).__dict__ for m in MILESTONES},
        "acknowledgement": within,
        "by_rule": dict(sorted(Counter(i.rule for i in incidents).items())),
        "by_severity": {s.value: sum(1 for i in incidents if i.severity == s.value) for s in Severity},
        "by_outcome": {o.value: outcomes.get(o.value, 0) for o in Outcome},
        "follow_ups": {
            "scheduled": len(scheduled),
            "done": len(done),
            "done_on_time": len(on_time),
            "share_done_on_time": _share(len(on_time), len(done)),
            "waived": len(waived),
            "pending": len(pending),
            "overdue": len(overdue),
        },
        "warnings_pushed": len(alerts),
        "alerts_by_rule": dict(sorted(Counter(r for (r,) in alerts).items())),
        "notifications_by_channel": dict(sorted(Counter(c for (c,) in notes).items())),
        "real_emergencies": sum(outcomes.get(o.value, 0) for o in REAL_EMERGENCIES),
        "open_incidents": sum(1 for i in incidents if i.closed_at is None),
        "checkins": await checkin_counts(session, since=since, until=until),
    }


async def checkin_counts(session: AsyncSession, *, since: datetime, until: datetime) -> dict[str, int]:
    """Check-ins opened in the window, apart from incidents (they page nobody unless unanswered)."""
    rows = (
        await session.execute(
            select(Checkin.state, Checkin.detail).where(Checkin.opened_at >= since, Checkin.opened_at < until)
        )
    ).all()
    states = Counter(state for state, _detail in rows)
    late = sum(1 for _state, detail in rows for a in (detail or {}).get("answers", []) if a.get("late"))
    return {
        "opened": len(rows),
        "answered_ok": states.get("ok", 0),
        "help": states.get("help", 0),
        "unanswered": states.get("unanswered", 0),
        "sign_of_life": states.get("sign_of_life", 0),
        "in_progress": states.get("calling", 0),
        "late_answers": late,
    }


def flatten(report: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``time_to.acknowledged.median_s``-style rows, for CSV and the spreadsheet's summary."""
    rows: list[tuple[str, Any]] = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", "value"])
    for name, value in flatten(report):
        writer.writerow([name, "" if value is None else value])
    return out.getvalue()


INCIDENT_COLUMNS = (
    "id",
    "household_id",
    "rule",
    "severity",
    "state",
    "opened_at",
    "acknowledge_s",
    "dispatch_s",
    "arrive_s",
    "close_s",
    "outcome",
    "follow_up_due_at",
    "follow_up_done_at",
    "follow_up_waived",
)


async def incident_rows(session: AsyncSession, *, since: datetime, until: datetime) -> list[list[Any]]:
    incidents = (
        await session.scalars(
            select(Incident)
            .where(Incident.opened_at >= since, Incident.opened_at < until)
            .order_by(Incident.opened_at, Incident.id)
        )
    ).all()
    return [
        [
            i.id,
            i.household_id,
            i.rule,
            i.severity,
            i.state,
            isoformat(i.opened_at),
            *(_seconds(i.opened_at, getattr(i, f"{m}_at")) for m in MILESTONES),
            i.outcome,
            isoformat(i.follow_up_due_at) if i.follow_up_due_at else None,
            isoformat(i.follow_up_done_at) if i.follow_up_done_at else None,
            bool(i.follow_up_waived_reason),
        ]
        for i in incidents
    ]


def to_xlsx(report: dict[str, Any], incidents: list[list[Any]]) -> bytes:
    """A workbook: the summary, and one row per incident for the supervisors' own pivots."""
    book = Workbook()
    summary = book.active
    summary.title = "SLA"
    summary.append(["metric", "value"])
    for name, value in flatten(report):
        summary.append([name, value])
    sheet = book.create_sheet("incidents")
    sheet.append(list(INCIDENT_COLUMNS))
    for row in incidents:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
