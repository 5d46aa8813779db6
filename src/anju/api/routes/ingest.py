"""Routes: what the ingestor could not store as events — dead letters and unknown devices.

Roles: every staff role (operator, supervisor, admin) reads; responders get 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from anju.api.responses import SIGNED_IN
from anju.api.schemas import DeadLetterRead, PageOf, UnknownDeviceRead
from anju.store.models import DeadLetter, UnknownDevice
from anju.web.deps import Instant, Offset, SessionDep, Staff

router = APIRouter(prefix="/ingest", tags=["ingest"], responses=SIGNED_IN)


def payload_text(head: bytes) -> str:
    """The stored bytes as text; what is not UTF-8 shows as U+FFFD rather than failing."""
    return head.decode("utf-8", errors="replace")


@router.get("/dead-letters", response_model=PageOf[DeadLetterRead])
async def list_dead_letters(
    session: SessionDep,
    _user: Staff,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Instant | None, Query(description="received at or after (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> PageOf[DeadLetterRead]:
    """Rejected messages with their reasons, newest first (staff)."""
    stmt = select(DeadLetter)
    if device_id is not None:
        stmt = stmt.where(DeadLetter.device_id == device_id)
    if since is not None:
        stmt = stmt.where(DeadLetter.received_at >= since)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(
        stmt.order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(limit).offset(offset)
    )
    items = [
        DeadLetterRead(
            id=r.id,
            received_at=r.received_at,
            topic=r.topic,
            device_id=r.device_id,
            reason=r.reason,
            payload_size=r.payload_size,
            payload_text=payload_text(r.payload_head),
            payload_hex=r.payload_head.hex(),
        )
        for r in rows
    ]
    return PageOf[DeadLetterRead](items=items, total=total, limit=limit, offset=offset)


@router.get("/unknown-devices", response_model=PageOf[UnknownDeviceRead])
async def list_unknown_devices(
    session: SessionDep,
    _user: Staff,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> PageOf[UnknownDeviceRead]:
    """Devices heard on the broker but not registered, most recently heard first (staff)."""
    total = await session.scalar(select(func.count()).select_from(UnknownDevice)) or 0
    rows = await session.scalars(
        select(UnknownDevice)
        .order_by(UnknownDevice.last_seen_at.desc(), UnknownDevice.key)
        .limit(limit)
        .offset(offset)
    )
    items = [
        UnknownDeviceRead(
            key=r.key,
            protocol=r.protocol,
            first_seen_at=r.first_seen_at,
            last_seen_at=r.last_seen_at,
            message_count=r.message_count,
            last_topic=r.last_topic,
            payload_text=payload_text(r.last_payload_head),
            payload_hex=r.last_payload_head.hex(),
        )
        for r in rows
    ]
    return PageOf[UnknownDeviceRead](items=items, total=total, limit=limit, offset=offset)
