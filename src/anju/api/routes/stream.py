"""Routes: the live queue — a JSON snapshot and a Server-Sent Events stream fed by the bus."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from anju.api.responses import problems
from anju.clock import isoformat
from anju.console import queries
from anju.context import Context
from anju.store.models import User
from anju.web.deps import CtxDep
from anju.web.session import STAFF_ROLES, user_from_request

router = APIRouter(tags=["stream"], responses=problems(401, 403))
log = logging.getLogger(__name__)
#: A comment line this often keeps proxies from closing an idle stream and reveals dead clients.
KEEPALIVE_S = 15.0


async def _staff(ctx: Context, request: Request) -> User:
    # Not the SessionDep-based guard: a stream lives for hours and must not hold a transaction open.
    user = await user_from_request(ctx, request)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
        )
    if user.role not in STAFF_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role!r} does not watch the queue")
    return user


@router.get("/stream/queue")
async def queue_snapshot(request: Request, ctx: CtxDep) -> dict[str, Any]:
    """Every incident the live queue shows, most severe then oldest first."""
    await _staff(ctx, request)
    async with ctx.db() as session:
        rows = await queries.queue_rows(session)
    return {"server_now": isoformat(ctx.clock.now()), "incidents": rows}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _incident_id(message: dict[str, Any]) -> int | None:
    raw = message.get("id", message.get("incident_id"))
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


async def _events(ctx: Context, request: Request) -> AsyncIterator[str]:
    async with ctx.bus.subscribe() as queue:
        # Subscribed first, then "hello": the client loads its snapshot knowing no change can fall between.
        yield "retry: 3000\n\n"
        yield _sse("hello", {"server_now": isoformat(ctx.clock.now())})
        while not await request.is_disconnected():
            try:
                message = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            kind = message.get("type")
            if kind == "resync":
                yield _sse("resync", {"server_now": isoformat(ctx.clock.now())})
                continue
            if kind != "incident":
                continue
            incident_id = _incident_id(message)
            if incident_id is None:
                log.warning("incident message without an id on the bus: %r", message)
                continue
            async with ctx.db() as session:
                row = await queries.incident_queue_row(session, incident_id)
            if row is None:
                continue
            yield _sse("incident", {"row": row, "server_now": isoformat(ctx.clock.now())})


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events, one ``event:``/``data:`` pair per change",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string", "enum": ["hello", "incident", "resync"]},
                            "data": {"type": "string", "description": "the event's JSON object"},
                        },
                    }
                }
            },
        }
    },
)
async def stream(request: Request, ctx: CtxDep) -> StreamingResponse:
    """Server-Sent Events: ``hello`` (load the snapshot), ``incident`` (one row changed), ``resync``."""
    await _staff(ctx, request)
    return StreamingResponse(
        _events(ctx, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
