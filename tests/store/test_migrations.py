"""Alembic builds exactly the models' schema, on SQLite and on PostgreSQL, and can be undone."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from anju.store.db import create_engine
from anju.store.migrate import alembic_config, current_is_head
from anju.store.models import Base


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))


async def test_migrated_schema_equals_the_models_on_both_backends(db_url: str) -> None:
    assert await current_is_head(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert diff == [], f"migrations and models differ: {diff}"
    expected = {
        "users",
        "households",
        "residents",
        "contacts",
        "devices",
        "sensor_events",
        "dead_letters",
        "unknown_devices",
        "alerts",
        "incidents",
        "incident_events",
        "notifications",
        "audit_log",
        "engine_snapshots",
    }
    assert expected <= tables


async def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:

            def _down_up(sync_conn: Connection) -> set[str]:
                cfg = alembic_config(db_url)
                cfg.attributes["connection"] = sync_conn
                command.downgrade(cfg, "base")
                left = set(inspect(sync_conn).get_table_names()) - {"alembic_version"}
                command.upgrade(cfg, "head")
                return left

            left = await conn.run_sync(_down_up)
    finally:
        await engine.dispose()
    assert left == set()
    assert await current_is_head(db_url)
