"""The console's fixtures: one headless Chromium per test module, a migrated template database per
module, and a live server on a fresh copy of it per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.support.browser import LiveServer, chromium, fresh_database, live_server, migrated_template


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await migrated_template(tmp_path_factory.mktemp("console-db"))


@pytest_asyncio.fixture(loop_scope="module")
async def server(template: Path, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(fresh_database(template, tmp_path)) as srv:
        yield srv
