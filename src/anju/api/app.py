"""The FastAPI application: API routers, console, error translation."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from anju import __version__
from anju.api.routes import (
    audit,
    auth,
    devices,
    events,
    health,
    households,
    imports,
    incidents,
    ingest,
    policies,
    reports,
    stream,
    users,
    webhooks,
)
from anju.console.views import STATIC_DIR
from anju.console.views import router as console_router
from anju.context import Context
from anju.errors import Conflict, NotFound

API_PREFIX = "/api/v1"


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Anju 安居", version=__version__, openapi_url="/openapi.json")
    app.state.ctx = ctx
    for module in (auth, imports, households, devices, events, incidents, ingest, reports, audit, stream):
        app.include_router(module.router, prefix=API_PREFIX)
    for module in (users, policies):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(console_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    return app
