"""A notification's error text keeps whatever came from outside, escaped (NUL, lone surrogates)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from anju.context import Context
from anju.notify.outbox import fail_row
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Notification
from tests.support.hostile_text import ESCAPED, HOSTILE, START, three_homes_pipeline


@pytest.fixture
async def pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline]]:
    async with three_homes_pipeline(db_url) as running:
        yield running


async def test_a_notification_error_with_hostile_text_is_stored_escaped(
    pipeline: tuple[Context, Pipeline],
) -> None:
    ctx, _ = pipeline
    async with transaction(ctx.db) as session:
        row = Notification(
            channel="sms",
            to_address="+8613800000000",
            body="test",
            status="pending",
            created_at=START,
            updated_at=START,
        )
        session.add(row)
        await session.flush()
        row_id = row.id
    await fail_row(ctx, row_id, START, ValueError(HOSTILE), doing="preparing it", expect=("pending",))
    async with ctx.db() as session:
        stored = await session.get(Notification, row_id)
    assert stored is not None
    assert stored.status == "failed"
    assert stored.last_error == f"internal error preparing it: ValueError: {ESCAPED}"
