"""Hardening: a service task that dies is reported loudly and stops the service for a restart."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from anju.clock import SimClock
from anju.context import Context
from anju.runtime import MqttTarget, Service
from tests.support.settings import make_settings

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


async def test_a_service_task_that_dies_is_logged_and_stops_the_service(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = Context.create(make_settings(db_url), clock=SimClock(START))
    try:
        service = Service(ctx, MqttTarget(url="mqtt://127.0.0.1:1"), serve_http=False)

        async def _crashes() -> None:
            await asyncio.sleep(0)
            raise RuntimeError("the HTTP server died")

        with caplog.at_level(logging.ERROR, logger="anju.runtime"):
            service._spawn(_crashes())
            await asyncio.wait_for(service.stop_event.wait(), 5)
        assert "the HTTP server died" in caplog.text
        assert service.died is not None and "the HTTP server died" in service.died
        assert any(r.exc_info for r in caplog.records if r.name == "anju.runtime")
    finally:
        await ctx.close()


async def test_a_service_task_that_ends_when_asked_to_stop_is_not_an_error(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = Context.create(make_settings(db_url), clock=SimClock(START))
    try:
        service = Service(ctx, MqttTarget(url="mqtt://127.0.0.1:1"), serve_http=False)
        service._spawn(service.stop_event.wait())
        service.stop_event.set()
        await asyncio.gather(*service._tasks)
        await asyncio.sleep(0)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert service.died is None
    finally:
        await ctx.close()
