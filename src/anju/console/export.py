"""The per-incident CSV export: one row per incident, headers and words in the console's language,
times in the center's time zone (the API's SLA CSV stays machine-readable: keys and UTC)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from anju.console.page import Page, signed_in_page
from anju.console.views.reports import report_window
from anju.dispatch import sla
from anju.store.models import Household
from anju.web.session import REPORT_ROLES

router = APIRouter(include_in_schema=False)

#: (SLA incident column, catalog key of its header, how the value is shown).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "export.id", "plain"),
    ("household_id", "export.household_id", "plain"),
    ("household_name", "export.household_name", "plain"),
    ("area", "export.area", "plain"),
    ("rule", "export.rule", "rule"),
    ("severity", "export.severity", "severity"),
    ("state", "export.state", "state"),
    ("opened_at", "export.opened_at", "time"),
    ("acknowledge_s", "export.acknowledge_s", "seconds"),
    ("dispatch_s", "export.dispatch_s", "seconds"),
    ("arrive_s", "export.arrive_s", "seconds"),
    ("close_s", "export.close_s", "seconds"),
    ("outcome", "export.outcome", "outcome"),
    ("follow_up_due_at", "export.follow_up_due_at", "time"),
    ("follow_up_done_at", "export.follow_up_done_at", "time"),
    ("follow_up_waived", "export.follow_up_waived", "yes_no"),
)


def _cell(page: Page, how: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if how == "time":
        return page.fmt_time(datetime.fromisoformat(str(value)))
    if how == "seconds":
        return str(round(float(value)))
    if how == "yes_no":
        return page.t("export.yes" if value else "export.no")
    if how in ("rule", "severity", "state", "outcome"):
        return page.t(f"{how}.{value}")
    return str(value)


def incidents_csv(page: Page, rows: list[list[Any]], homes: dict[str, Household]) -> str:
    """The rows of ``sla.incident_rows`` with the household's name and area, in ``page``'s language."""
    out = io.StringIO()
    writer = csv.writer(out)
    tz = page.ctx.settings.tz.key
    writer.writerow([page.t(key, tz=tz) for _, key, _ in COLUMNS])
    for raw in rows:
        row = dict(zip(sla.INCIDENT_COLUMNS, raw, strict=True))
        home = homes.get(str(row["household_id"]))
        row["household_name"] = home.name if home else ""
        row["area"] = home.area if home else ""
        writer.writerow([_cell(page, how, row.get(column)) for column, _, how in COLUMNS])
    return out.getvalue()


@router.get("/reports/incidents.csv")
async def incidents_export(request: Request) -> Response:
    """``?since=&until=`` local days as on the reports page; a bad date is a 422, not another period."""
    page = await signed_in_page(request, REPORT_ROLES)
    if not isinstance(page, Page):
        return page
    since_day, until_day, bad = report_window(page, request)
    if bad:
        return page.error(422, "reports.bad_date_short", detail=", ".join(bad))
    tz = page.ctx.settings.tz
    since = datetime(since_day.year, since_day.month, since_day.day, tzinfo=tz)
    until = datetime(until_day.year, until_day.month, until_day.day, tzinfo=tz) + timedelta(days=1)
    async with page.ctx.db() as session:
        rows = await sla.incident_rows(session, since=since, until=until)
        ids = sorted({str(r[1]) for r in rows})
        homes = {
            h.id: h for h in (await session.scalars(select(Household).where(Household.id.in_(ids)))).all()
        }
    body = "\ufeff" + incidents_csv(page, rows, homes)  # the BOM makes Excel read UTF-8 (Chinese) right
    name = f"{page.t('export.file_stem')}-{since_day.isoformat()}-{until_day.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=anju-incidents.csv; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )
