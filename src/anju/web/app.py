"""The FastAPI application: API routers, console, error translation, headers on every answer."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anju import __version__
from anju.api.routes import (
    audit,
    auth,
    calls,
    devices,
    events,
    health,
    households,
    imports,
    incident_actions,
    incidents,
    ingest,
    policies,
    reports,
    stream,
    users,
)
from anju.console.views import STATIC_DIR
from anju.console.views import router as console_router
from anju.context import Context
from anju.errors import Conflict, NotFound
from anju.notify.providers import webhook_routers
from anju.store.safe import storable_json

API_PREFIX = "/api/v1"
log = logging.getLogger("anju.api.app")  # the name operators already filter on
#: Sent with every answer: browsers must not guess a content type (an uploaded CSV is not a script).
NOSNIFF = (b"x-content-type-options", b"nosniff")
_NUL_IN_URL = "a NUL character (%00) in the address is not accepted (地址中不允许出现 NUL 字符)"


class HardenedHTTP:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every response; NUL in a URL is 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != NOSNIFF[0]]
                message["headers"] = [*headers, NOSNIFF]
            await send(message)

        query = bytes(scope.get("query_string", b"")).lower()
        # PostgreSQL refuses NUL in text: a filter that carries one is refused here, before any query.
        if b"%00" in query or "\x00" in str(scope.get("path", "")):
            response = JSONResponse(
                {"detail": _NUL_IN_URL}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
            )
            await response(scope, receive, send_with_header)
            return
        await self.app(scope, receive, send_with_header)


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="Anju 安居", version=__version__, openapi_url="/openapi.json")
    app.state.ctx = ctx
    for module in (
        auth,
        imports,
        households,
        devices,
        events,
        incidents,
        incident_actions,
        calls,
        ingest,
        reports,
        audit,
        stream,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    for module in (users, policies):
        app.include_router(module.router, prefix=API_PREFIX)
    for router in webhook_routers():
        app.include_router(router)
    app.include_router(health.router)
    app.include_router(console_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(HardenedHTTP)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    @app.exception_handler(DBAPIError)
    async def _not_storable(_: Request, exc: DBAPIError) -> JSONResponse:
        # SQLSTATE class 22 (data exception: out of range, NUL in text…) is the client's to fix.
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        if not (isinstance(exc, DataError) or sqlstate.startswith("22")):
            raise exc
        log.info("request refused by the database: %s", exc.orig)
        return JSONResponse(
            {"detail": "a value is out of range or cannot be stored (参数超出范围或无法保存)"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input: a lone surrogate in it would make the answer a 500.
        return JSONResponse(
            {"detail": storable_json(jsonable_encoder(exc.errors()))},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(Exception)
    async def _server_error(_: Request, exc: Exception) -> JSONResponse:
        # Outside every middleware (Starlette's ServerErrorMiddleware): the header is set here.
        return JSONResponse(
            {"detail": "internal error; it has been logged (服务器内部错误，已记录)"},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            headers={NOSNIFF[0].decode(): NOSNIFF[1].decode()},
        )

    return app
