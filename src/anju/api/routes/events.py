"""Routes: a household's stored sensor events.

Roles: every staff role (operator, supervisor, admin) reads; responders get 403.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from anju.api.responses import SIGNED_IN, problems
from anju.api.schemas import EventPage, SensorEventRead
from anju.clock import parse_ts
from anju.store import households as service
from anju.store.households import EventOrder
from anju.web.deps import Instant, SessionDep, Staff, TextIdPath

router = APIRouter(tags=["events"], responses=SIGNED_IN)

MAX_PAGE = 1000


def encode_cursor(at: datetime, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, event_id = raw.rsplit("|", 1)
        return parse_ts(at), int(event_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor: not a cursor this API returned"
        ) from err


@router.get("/households/{household_id}/events", response_model=EventPage, responses=problems(404))
async def list_events(
    session: SessionDep,
    _user: Staff,
    household_id: TextIdPath,
    since: Annotated[Instant | None, Query(description="RFC 3339 with offset; inclusive")] = None,
    until: Annotated[Instant | None, Query(description="RFC 3339 with offset; exclusive")] = None,
    order: Annotated[EventOrder, Query(description="desc: newest first (default); asc: oldest")] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")] = None,
) -> EventPage:
    """Stored events (and heartbeats) of one household on event time, ``since <= t < until`` (staff).

    Newest first unless ``order=asc``; at most ``limit`` (≤ 1000) per page. When a page is full,
    ``next_cursor`` continues it; it stays correct while new events arrive.
    """
    if since is not None and until is not None and until <= since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "until must be later than since")
    await service.get_household(session=session, household_id=household_id)
    after = decode_cursor(cursor) if cursor else None
    rows = await service.list_events(
        session=session,
        household_id=household_id,
        since=since,
        until=until,
        order=order,
        limit=limit,
        after=after,
    )
    next_cursor = encode_cursor(rows[-1].event_time, rows[-1].id) if len(rows) == limit else None
    return EventPage(
        items=[SensorEventRead.model_validate(r) for r in rows],
        order=order,
        limit=limit,
        next_cursor=next_cursor,
    )
