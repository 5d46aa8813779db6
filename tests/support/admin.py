"""Helpers for the admin API tests: a private copy of rules/, audit records by action."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sqlalchemy import select

from anju import audit
from anju.config import PROJECT_ROOT
from anju.context import Context
from anju.store.models import AuditRecord

REPO_RULES = PROJECT_ROOT / "rules"
REPO_ESCALATION = REPO_RULES / "escalation.toml"


def copy_rules(tmp_path: Path) -> Path:
    """rules/*.toml copied into ``tmp_path``: tests edit the copy, never the repository's files."""
    target = tmp_path / "rules"
    target.mkdir()
    for source in REPO_RULES.glob("*.toml"):
        shutil.copy(source, target / source.name)
    return target


def repo_escalation_sha() -> str:
    return hashlib.sha256(REPO_ESCALATION.read_bytes()).hexdigest()


async def records(ctx: Context, *, after_id: int = 0, action: str | None = None) -> list[AuditRecord]:
    """Audit records newer than ``after_id`` (optionally of one action), oldest first."""
    async with ctx.db() as session:
        query = select(AuditRecord).where(AuditRecord.id > after_id)
        if action is not None:
            query = query.where(AuditRecord.action == action)
        return list((await session.scalars(query.order_by(AuditRecord.id))).all())


async def last_audit_id(ctx: Context) -> int:
    async with ctx.db() as session:
        found = await session.scalar(select(AuditRecord.id).order_by(AuditRecord.id.desc()).limit(1))
        return int(found or 0)


async def chain_ok(ctx: Context) -> int:
    """Verify the chain; returns how many records it holds."""
    async with ctx.db() as session:
        count, broken, _head = await audit.verify_chain(session)
    assert broken is None, broken
    return count
