"""Routes: the SLA report (supervisors and admins), as JSON, CSV or XLSX."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from anju.api.responses import SIGNED_IN
from anju.dispatch import sla
from anju.web.deps import CtxDep, Instant, SessionDep, Supervisor

router = APIRouter(tags=["reports"], responses=SIGNED_IN)
DEFAULT_WINDOW = timedelta(days=30)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{name} needs a UTC offset, e.g. 2026-11-01T00:00:00+08:00",
        )
    return value


@router.get(
    "/reports/sla",
    response_model=None,
    responses={
        200: {
            "description": "The report: JSON, or a CSV or XLSX download per ``format``",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def sla_report(
    ctx: CtxDep,
    session: SessionDep,
    _user: Supervisor,
    since: Instant | None = None,
    until: Instant | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> dict[str, Any] | Response:
    """Time to acknowledge, dispatch, arrive and close; acknowledgement within 60 s / 180 s; counts.

    The window defaults to the 30 days before now; see docs/dispatch.md for every definition.
    """
    now = ctx.clock.now()
    end = _aware("until", until) or now
    start = _aware("since", since) or end - DEFAULT_WINDOW
    if start >= end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")
    report = await sla.sla_report(session, since=start, until=end, now=now)
    stem = f"anju-sla-{start.date().isoformat()}-{end.date().isoformat()}"
    if format == "csv":
        return Response(
            sla.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    if format == "xlsx":
        rows = await sla.incident_rows(session, since=start, until=end)
        return Response(
            sla.to_xlsx(report, rows),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
        )
    return report
