"""Review: the outbox worker outlives a database error at its very first query."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from anju.domain import Channel, NotificationStatus
from anju.notify.outbox import outbox_loop
from tests.support.ingest import eventually
from tests.support.settings import make_settings
from tests.support.twilio_fake import harness, press_button, rows, seed_household


class DatabaseAway(RuntimeError):
    """Stands for a database that is briefly unreachable (a restart, a dropped connection)."""


async def test_the_outbox_worker_keeps_delivering_after_a_database_error_at_its_start(db_url: str) -> None:
    settings = make_settings(db_url)
    async with harness(settings) as env:
        ctx = env.ctx
        hid, _ = await seed_household(ctx)
        incident_id = await press_button(ctx, hid)

        armed = [True]

        def fail_once(*_args: Any) -> None:
            if armed[0]:
                armed[0] = False
                raise DatabaseAway("injected: the database is away for a moment")

        event.listen(ctx.db_engine.sync_engine, "before_cursor_execute", fail_once)
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox_loop(ctx, stop, interval_s=0.05))
        try:

            async def tripped() -> bool:
                return not armed[0]

            await eventually(tripped, within_s=5.0, interval=0.001)

            async def console_delivered() -> bool:
                found = [r for r in await rows(ctx, incident_id) if r.channel == Channel.CONSOLE.value]
                return bool(found) and all(r.status == NotificationStatus.DELIVERED.value for r in found)

            assert await eventually(console_delivered, within_s=5.0)
            assert not worker.done(), worker.exception()
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(worker, return_exceptions=True), 10)
            event.remove(ctx.db_engine.sync_engine, "before_cursor_execute", fail_once)
