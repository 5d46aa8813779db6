"""Liveness, readiness (database and registered probes) and Prometheus metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from anju.context import Context
from anju.domain import IncidentState, Severity
from anju.store.db import transaction
from anju.store.households import create_household
from anju.store.models import Incident
from tests.support.api import client_for, sqlite_context
from tests.support.settings import make_settings


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """On SQLite and on PostgreSQL."""
    async with client_for(ctx) as c:
        yield c


@pytest.fixture
async def lite_ctx(sqlite_url: str) -> AsyncIterator[Context]:
    async with sqlite_context(sqlite_url) as context:
        yield context


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_liveness_needs_nothing_but_the_process(lite_ctx: Context) -> None:
    async with client_for(lite_ctx) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_answers_and_every_probe_holds(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    ctx.readiness["mqtt"] = lambda: True
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"database": True, "mqtt": True}, "reasons": {}}


async def test_not_ready_while_a_probe_fails_or_raises(lite_ctx: Context) -> None:
    ctx = lite_ctx
    connected = False
    ctx.readiness["mqtt"] = lambda: connected

    def broken() -> bool:
        raise RuntimeError("ingest worker gone")

    ctx.readiness["ingest"] = broken
    async with client_for(ctx) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["ready"] is False
        assert body["checks"] == {"database": True, "mqtt": False, "ingest": False}
        assert "ingest worker gone" in body["reasons"]["ingest"]
        connected = True
        del ctx.readiness["ingest"]
        assert (await client.get("/readyz")).status_code == 200


async def test_not_ready_when_the_database_is_unreachable_but_still_alive() -> None:
    # Port 9 (discard) on localhost: nothing listens, so the connection is refused at once.
    ctx = Context.create(make_settings("postgresql+asyncpg://postgres@127.0.0.1:9/anju"))
    try:
        async with client_for(ctx) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": False}
            assert ready.json()["reasons"]["database"]
            assert (await client.get("/healthz")).status_code == 200
            # Metrics still render without the database; they are how an operator sees trouble.
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await ctx.close()


async def test_metrics_count_open_incidents_by_severity_from_the_database(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    now = ctx.clock.now()
    rows = [
        (IncidentState.OPEN, Severity.CRITICAL),
        (IncidentState.ACKNOWLEDGED, Severity.CRITICAL),
        (IncidentState.DISPATCHED, Severity.HIGH),
        (IncidentState.RESOLVED, Severity.CRITICAL),
        (IncidentState.FOLLOW_UP, Severity.HIGH),
        (IncidentState.CLOSED, Severity.MEDIUM),
        (IncidentState.OPEN, Severity.MEDIUM),
    ]
    async with transaction(ctx.db) as session:
        await create_household(session=session, household_id="h-m", name="陈", now=now)
        for i, (state, severity) in enumerate(rows):
            session.add(
                Incident(
                    household_id="h-m",
                    state=state.value,
                    severity=severity.value,
                    rule="button",
                    opened_at=now - timedelta(minutes=i),
                    updated_at=now,
                )
            )
    ctx.metrics.ingest_messages.labels(outcome="stored").inc(3)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    gauge = _samples(response.text, "anju_incidents_open")
    assert gauge == {
        (("severity", "critical"),): 2.0,
        (("severity", "high"),): 1.0,
        (("severity", "medium"),): 1.0,
        (("severity", "low"),): 0.0,
    }
    assert _samples(response.text, "anju_ingest_messages_total")[(("outcome", "stored"),)] == 3.0
