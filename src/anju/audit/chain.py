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
from anju.store.db import create_engine, session_factory
from anju.store.models import AuditRecord
from anju.store.safe import storable, storable_json

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


#: The PostgreSQL advisory lock that serialises appenders (held to the end of the transaction).
CHAIN_LOCK_KEY = 7321001


async def lock_chain(session: AsyncSession) -> None:
    """Serialise appenders so the chain stays linear; call it first in a transaction that will append.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a no-op write takes the database's writer
    lock now, so the previous hash read next cannot be overtaken by another writer. Taking it before
    any row lock keeps the lock order the same everywhere (no deadlock with row locks).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    else:
        await session.execute(text("UPDATE audit_log SET id = id WHERE 0"))


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
    await lock_chain(session)
    prev = await session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    # Whatever came from outside (a username, a note, a reason) is escaped before it is hashed and
    # stored: an audit record that cannot be written would undo the change it records.
    payload = storable_json(json.loads(json.dumps(content or {}, default=str)))
    actor = storable(actor, limit=128)
    entity_key = storable(str(entity_id), limit=64)
    rec = AuditRecord(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_key,
        content=payload,
        prev_hash=prev_hash,
    )
    rec.hash = record_hash(
        prev_hash=prev_hash,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_key,
        content=payload,
    )
    session.add(rec)
    await session.flush()
    return rec


@dataclass(frozen=True)
class ChainBreak:
    record_id: int
    reason: str


@dataclass(frozen=True)
class ChainHead:
    """The last record checked: note it down elsewhere to detect a later cut of the chain's tail."""

    record_id: int
    hash: str


async def verify(session: AsyncSession) -> tuple[int, ChainBreak | None]:
    """Walk the chain in id order; return the count checked and the first break, if any."""
    count, broken, _head = await verify_chain(session)
    return count, broken


async def verify_chain(
    session: AsyncSession, *, anchor: ChainHead | None = None
) -> tuple[int, ChainBreak | None, ChainHead | None]:
    """Walk the chain; also check that ``anchor`` (a head noted earlier) is still in it unchanged.

    An edit changes a record's hash; a removal or a reordering breaks the next record's link. Only
    a cut of the newest records leaves a shorter but consistent chain, hence the anchor.
    """
    prev_hash = GENESIS
    count = 0
    head: ChainHead | None = None
    anchor_seen = anchor is None
    result = await session.stream_scalars(select(AuditRecord).order_by(AuditRecord.id))
    async for rec in result:
        if rec.prev_hash != prev_hash:
            return (
                count,
                ChainBreak(rec.id, "previous hash does not match: a record was removed or reordered"),
                head,
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
            return count, ChainBreak(rec.id, "content does not match its hash: the record was edited"), head
        if anchor is not None and rec.id == anchor.record_id:
            if rec.hash != anchor.hash:
                return count, ChainBreak(rec.id, "the noted head record was replaced"), head
            anchor_seen = True
        prev_hash = rec.hash
        head = ChainHead(rec.id, rec.hash)
        count += 1
    if not anchor_seen and anchor is not None:
        return count, ChainBreak(anchor.record_id, "the noted head record is gone: the tail was cut"), head
    return count, None, head


async def verify_database(url: str, *, anchor: ChainHead | None = None) -> tuple[int, ChainBreak | None]:
    """``anju audit verify``: check the chain of the database at ``url``."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            count, broken, _head = await verify_chain(session, anchor=anchor)
            return count, broken
    finally:
        await engine.dispose()
