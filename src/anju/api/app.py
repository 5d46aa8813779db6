"""The FastAPI application: API routers, console, error translation."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from anju import __version__
from anju.api.routes import (
    audit,
    auth,
    devices,
    events,
    health,
    households,
    incidents,
    ingest,
    reports,
    webhooks,
)
from anju.context import Context
from anju.errors import Conflict, NotFound

API_PREFIX = "/api/v1"


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Anju 安居", version=__version__, openapi_url="/openapi.json")
    app.state.ctx = ctx
    for module in (auth, households, devices, events, incidents, ingest, reports, audit):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(webhooks.router)
    app.include_router(health.router)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    return app
