"""Routes: the audit trail (supervisors and admins): records newest first, and the chain check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from anju import audit
from anju.api.responses import SIGNED_IN
from anju.store.models import AuditRecord
from anju.web.deps import MAX_BIG_ID, Instant, SessionDep, Supervisor

router = APIRouter(tags=["audit"], responses=SIGNED_IN)


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    content: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    broken_record_id: int | None = None
    reason: str | None = None
    head_id: int | None = None
    head_hash: str | None = None


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    session: SessionDep,
    _user: Supervisor,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_BIG_ID, description="page back: records older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Audit records, newest first, filtered by entity, action, actor and time."""
    q = select(AuditRecord)
    if entity:
        q = q.where(AuditRecord.entity == entity)
    if entity_id:
        q = q.where(AuditRecord.entity_id == entity_id)
    if action:
        q = q.where(AuditRecord.action == action)
    if actor:
        q = q.where(AuditRecord.actor == actor)
    if since:
        q = q.where(AuditRecord.at >= since)
    if until:
        q = q.where(AuditRecord.at < until)
    if before_id:
        q = q.where(AuditRecord.id < before_id)
    rows = (await session.scalars(q.order_by(AuditRecord.id.desc()).limit(limit))).all()
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/audit/verify", response_model=VerifyOut)
async def verify_audit(session: SessionDep, _user: Supervisor) -> VerifyOut:
    """Walk the hash chain: the first edited, removed or reordered record, if any."""
    count, broken, head = await audit.verify_chain(session)
    return VerifyOut(
        ok=broken is None,
        checked=count,
        broken_record_id=broken.record_id if broken else None,
        reason=broken.reason if broken else None,
        head_id=head.record_id if head else None,
        head_hash=head.hash if head else None,
    )
