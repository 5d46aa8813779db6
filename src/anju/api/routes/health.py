"""Routes: liveness, readiness and Prometheus metrics.

No authentication: probes and scrapers call these, and they reveal no personal data (counts only).
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from anju.api.schemas import Readiness
from anju.context import Context
from anju.domain import ACTIVE_STATES, Severity
from anju.store.models import Incident
from anju.web.deps import CtxDep

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)

#: A database that takes longer than this to answer ``SELECT 1`` is not ready.
DB_TIMEOUT_S = 2.0


async def _database_ok(ctx: Context) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(DB_TIMEOUT_S), ctx.db() as session:
            await session.execute(text("SELECT 1"))
    except TimeoutError:
        return False, f"no answer within {DB_TIMEOUT_S:g} s"
    except (SQLAlchemyError, OSError) as err:
        return False, f"{type(err).__name__}: {err}"[:300]
    return True, ""


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
async def readyz(ctx: CtxDep) -> JSONResponse:
    """200 when the database answers and every registered probe (``ctx.readiness``) holds, else 503.

    The service registers ``mqtt``, ``ingest`` and ``canary`` (anju.health); ``reasons`` says why each
    failing check fails.
    """
    checks: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    checks["database"], reason = await _database_ok(ctx)
    if reason:
        reasons["database"] = reason
    for name, probe in sorted(ctx.readiness.items()):
        try:
            checks[name] = bool(probe())
        except Exception as err:  # a broken probe means "not ready", never a 500
            checks[name] = False
            reasons[name] = f"probe failed: {type(err).__name__}: {err}"[:300]
            continue
        # A probe may say why it fails (anju.health.Probe keeps its last reason).
        reason = getattr(probe, "reason", "")
        if not checks[name] and isinstance(reason, str) and reason:
            reasons[name] = reason[:500]
    body = Readiness(ready=all(checks.values()), checks=checks, reasons=reasons)
    code = status.HTTP_200_OK if body.ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse(body.model_dump(), status_code=code)


async def refresh_incident_gauge(ctx: Context) -> None:
    """Set ``anju_incidents_open{severity}`` from the database (open, acknowledged, dispatched)."""
    async with ctx.db() as session:
        rows = await session.execute(
            select(Incident.severity, func.count())
            .where(Incident.state.in_([s.value for s in ACTIVE_STATES]))
            .group_by(Incident.severity)
        )
        counts = {severity: int(n) for severity, n in rows}
    for severity in Severity:
        ctx.metrics.incidents_open.labels(severity=severity.value).set(counts.get(severity.value, 0))


@router.get("/metrics", response_class=Response)
async def metrics(ctx: CtxDep) -> Response:
    """Prometheus text exposition of the service's registry."""
    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            await refresh_incident_gauge(ctx)
    except (SQLAlchemyError, OSError, TimeoutError) as err:
        # Serve the other metrics anyway; the gauge keeps its last value and the log says why.
        log.warning("could not refresh anju_incidents_open: %s", err)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
