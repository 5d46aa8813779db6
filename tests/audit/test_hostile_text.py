"""An audit record keeps text from outside escaped (NUL, lone surrogates), and the chain verifies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from anju import audit
from anju.context import Context
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import AuditRecord
from tests.support.hostile_text import ESCAPED, HOSTILE, START, three_homes_pipeline


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline]]:
    async with three_homes_pipeline(db_url) as running:
        yield running


async def test_an_audit_record_with_nul_and_surrogates_is_stored_escaped_and_the_chain_verifies(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, _ = pipeline
    async with transaction(ctx.db) as session:
        await audit.record(
            session,
            at=START,
            actor=HOSTILE,
            action="auth.login_failed",
            entity="user",
            entity_id=HOSTILE,
            content={"note": HOSTILE, HOSTILE: [HOSTILE, 1]},
        )
        await audit.record(session, at=START, actor="system", action="x", entity="y", entity_id=1)
    async with ctx.db() as session:
        first = await session.scalar(select(AuditRecord).order_by(AuditRecord.id).limit(1))
        checked, broken = await audit.verify(session)
    assert first is not None
    assert (first.actor, first.entity_id) == (ESCAPED, ESCAPED)
    assert first.content == {"note": ESCAPED, ESCAPED: [ESCAPED, 1]}
    assert (checked, broken) == (2, None)
