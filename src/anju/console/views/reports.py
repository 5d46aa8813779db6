"""The service-level report page: the SLA figures, its charts, exports and the household import."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from anju.clock import isoformat
from anju.console import charts, report
from anju.console.household_import import COLUMNS as IMPORT_COLUMNS
from anju.console.page import Page, signed_in_page
from anju.dispatch import sla
from anju.web.session import IMPORT_ROLES, REPORT_ROLES

#: The acknowledgement targets the report measures, with the share each should reach (UK TEC code).
REPORT_ACK_TARGETS = tuple(zip(sla.ACK_TARGETS_S, (0.975, 0.99), strict=True))

router = APIRouter(include_in_schema=False)


def _parse_day(value: str | None, bad: list[str]) -> date | None:
    """The day ``value`` names; a value that is no date goes on ``bad`` (shown, never silently dropped)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        bad.append(value[:40])
        return None


def report_window(page: Page, request: Request) -> tuple[date, date, list[str]]:
    """The report's first and last local day from ``since``/``until`` (default: the last 28 days)."""
    bad: list[str] = []
    today = page.ctx.clock.now().astimezone(page.ctx.settings.tz).date()
    until_day = _parse_day(request.query_params.get("until"), bad) or today
    since_day = _parse_day(request.query_params.get("since"), bad) or (until_day - timedelta(days=27))
    if since_day > until_day:
        since_day, until_day = until_day, since_day
    return since_day, until_day, bad


def fmt_duration(page: Page, seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return page.t("dur.s", s=s)
    if s < 3600:
        return page.t("dur.ms", m=s // 60, s=s % 60)
    if s < 86400:
        return page.t("dur.hm", h=s // 3600, m=(s % 3600) // 60)
    return page.t("dur.dh", d=s // 86400, h=(s % 86400) // 3600)


def _metric_attributes(name: str, value: float | None) -> Markup:
    """The report's metric name and raw value on the element that shows it (for checks and scrapers)."""
    return Markup(" data-metric=\"{}\" data-value='{}'").format(name, json.dumps(value))


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    page = await signed_in_page(request, REPORT_ROLES)
    if not isinstance(page, Page):
        return page
    assert page.user is not None
    tz = page.ctx.settings.tz
    now = page.ctx.clock.now()
    since_day, until_day, bad_dates = report_window(page, request)
    since = datetime(since_day.year, since_day.month, since_day.day, tzinfo=tz)
    until = datetime(until_day.year, until_day.month, until_day.day, tzinfo=tz) + timedelta(days=1)
    # One source of truth: the figures are the SLA report's (the API and the exports compute the same).
    async with page.ctx.db() as session:
        figures = await sla.sla_report(session, since=since, until=until, now=now)
        rows = report.incident_rows(await sla.incident_rows(session, since=since, until=until))
    weeks, series = report.rule_weeks(rows, since=since, until=until, tz=tz)
    outcome_rows = [
        (page.t(f"outcome.{o}") if o else page.t("chart.pending"), count)
        for o, count in report.outcome_counts(figures)
    ]
    params = {"since": isoformat(since), "until": isoformat(until)}
    return page.render(
        "reports.html",
        title_key="title.reports",
        nav="reports",
        # A date that is no date is answered with 422 and says so; the default period is shown below.
        status_code=422 if bad_dates else 200,
        bad_dates=bad_dates,
        export_incidents="/reports/incidents.csv?"
        + urlencode({"since": since_day.isoformat(), "until": until_day.isoformat(), "lang": page.lang}),
        since_date=since_day.isoformat(),
        until_date=until_day.isoformat(),
        report=figures,
        milestones=sla.MILESTONES,
        ack_targets=REPORT_ACK_TARGETS,
        metric=_metric_attributes,
        pct=lambda v: "—" if v is None else f"{100 * v:.1f}%",
        dur=lambda s: fmt_duration(page, s),
        ack_chart=charts.ack_chart(report.ack_points(rows), page.t, page.fmt_time),
        rule_chart=charts.stacked_weeks(weeks, [(page.t(f"rule.{r}"), c) for r, c in series], page.t),
        outcome_chart=charts.horizontal_bars(outcome_rows, page.t, label=page.t("reports.outcome_chart")),
        export_csv="/api/v1/reports/sla?" + urlencode({**params, "format": "csv"}),
        export_xlsx="/api/v1/reports/sla?" + urlencode({**params, "format": "xlsx"}),
        can_import=page.user.role in IMPORT_ROLES,
        import_columns=IMPORT_COLUMNS,
    )
