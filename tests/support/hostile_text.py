"""Text from outside that no database takes as it is, and a pipeline with three homes to store it through.

Every write on the alarm path stores such text escaped, never refused; a value no database can hold
harms only its own row, on both backends (audit, runtime and notify tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from anju.clock import SimClock
from anju.context import Context
from anju.engine.core import Engine
from anju.engine.pack import load_pack
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import Household
from tests.support.settings import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
HOSTILE = "a\x00b\ud800c\udfff"
ESCAPED = "a\\x00b\\ud800c\\udfff"


@asynccontextmanager
async def three_homes_pipeline(db_url: str) -> AsyncIterator[tuple[Context, Pipeline]]:
    """Households ``h-w1``, ``h-w2`` and ``h-w3``, no devices, the default rules."""
    ctx = Context.create(make_settings(db_url), clock=SimClock(START))
    async with transaction(ctx.db) as session:
        for hid in ("h-w1", "h-w2", "h-w3"):
            session.add(Household(id=hid, name=hid, created_at=START, updated_at=START))
    pipe = Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "default.toml")))
    try:
        yield ctx, pipe
    finally:
        await ctx.close()
