"""Fixtures every domain shares: real SQLite and PostgreSQL databases, the real Mosquitto, contexts."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from anju.clock import SimClock
from anju.context import Context
from anju.store.migrate import upgrade
from tests.support.settings import MQTT_HOST, MQTT_PORT, PG_ADMIN_DSN, make_settings


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """The real Mosquitto; a missing broker is a failure, not a skip."""
    assert _port_open(MQTT_HOST, MQTT_PORT), f"Mosquitto is not listening on {MQTT_HOST}:{MQTT_PORT}"
    return f"mqtt://{MQTT_HOST}:{MQTT_PORT}"


async def _create_pg_database() -> str:
    name = f"anju_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = await _create_pg_database()
    url = _pg_url(name)
    await upgrade(url)
    try:
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'anju.db'}"
    await upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Runs a storage test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'anju.db'}"
        await upgrade(url)
        yield url
    else:
        name = await _create_pg_database()
        url = _pg_url(name)
        await upgrade(url)
        try:
            yield url
        finally:
            await _drop_pg_database(name)


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock(datetime(2026, 11, 29, 0, 0, tzinfo=UTC))


@pytest.fixture
async def ctx(db_url: str) -> AsyncIterator[Context]:
    """A context on a migrated database (both backends), with the real clock."""
    context = Context.create(make_settings(db_url))
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def dctx(db_url: str, sim_clock: SimClock) -> AsyncIterator[Context]:
    """A context on a migrated database (both backends) whose clock the test moves (dispatch, audit)."""
    ctx = Context.create(make_settings(db_url), clock=sim_clock)
    try:
        yield ctx
    finally:
        await ctx.close()
