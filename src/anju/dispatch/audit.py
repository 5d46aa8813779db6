"""The tamper-evident audit trail: append-only records, each hash covering the previous one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import isoformat
from anju.store.models import AuditRecord

GENESIS = "0" * 64


def record_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    content: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": isoformat(at),
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "content": content,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def _lock_chain(session: AsyncSession) -> None:
    """Serialize appenders so the chain stays linear (SQLite's writer lock already does)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7321001)"))


async def record(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    content: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction."""
    await _lock_chain(session)
    prev = await session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    payload = json.loads(json.dumps(content or {}, default=str))
    rec = AuditRecord(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        content=payload,
        prev_hash=prev_hash,
    )
    rec.hash = record_hash(
        prev_hash=prev_hash,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        content=payload,
    )
    session.add(rec)
    await session.flush()
    return rec


@dataclass(frozen=True)
class ChainBreak:
    record_id: int
    reason: str


async def verify(session: AsyncSession) -> tuple[int, ChainBreak | None]:
    """Walk the chain in id order; return the count checked and the first break, if any."""
    prev_hash = GENESIS
    count = 0
    result = await session.stream_scalars(select(AuditRecord).order_by(AuditRecord.id))
    async for rec in result:
        if rec.prev_hash != prev_hash:
            return count, ChainBreak(
                rec.id, "previous hash does not match: a record was removed or reordered"
            )
        expected = record_hash(
            prev_hash=rec.prev_hash,
            at=rec.at,
            actor=rec.actor,
            action=rec.action,
            entity=rec.entity,
            entity_id=rec.entity_id,
            content=rec.content,
        )
        if expected != rec.hash:
            return count, ChainBreak(rec.id, "content does not match its hash: the record was edited")
        prev_hash = rec.hash
        count += 1
    return count, None
