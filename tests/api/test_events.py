"""A household's stored events over HTTP: time bounds, order, page size and cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from anju.context import Context
from anju.domain import Role
from tests.support.api import add_events, add_user, bearer, detail, household_body, signed_in, sqlite_context

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


@asynccontextmanager
async def _supervisor(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """A supervisor's client; an admin has added two households."""
    admin = await add_user(ctx, Role.ADMIN)
    async with signed_in(ctx, Role.SUPERVISOR) as client:
        for household in ("h-ev", "h-next-door"):
            created = await client.post(
                "/api/v1/households", json=household_body(household), headers=bearer(admin)
            )
            assert created.status_code == 201
        yield client


@pytest.fixture
async def staff(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """On SQLite and on PostgreSQL."""
    async with _supervisor(ctx) as client:
        yield client


@pytest.fixture
async def lite_staff(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """On SQLite only, for request validation that storage cannot change."""
    async with sqlite_context(sqlite_url) as ctx, _supervisor(ctx) as client:
        yield client


async def _times(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/households/h-ev/events", params=params)
    assert response.status_code == 200, response.text
    return [e["event_time"] for e in response.json()["items"]]


def _iso(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def test_events_come_newest_first_within_since_inclusive_until_exclusive(
    ctx: Context, staff: httpx.AsyncClient
) -> None:
    await add_events(ctx, "h-ev", "pir-ev", [T0 + timedelta(minutes=m) for m in range(10)])
    await add_events(ctx, "h-next-door", "pir-nd", [T0 + timedelta(minutes=5)])
    got = await _times(staff, since=(T0 + timedelta(minutes=2)).isoformat(), until=_iso(5))
    assert got == [_iso(4), _iso(3), _iso(2)]
    assert await _times(staff, since=_iso(7), order="asc") == [_iso(7), _iso(8), _iso(9)]
    # The same instant written with another offset means the same bound.
    assert await _times(staff, until="2026-11-29T14:01:00+08:00", order="asc") == [_iso(0)]
    assert len(await _times(staff)) == 10


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_cursor_pages_through_every_event_once_in_order(
    ctx: Context, staff: httpx.AsyncClient, order: str
) -> None:
    # Several events share an instant: the cursor must not skip or repeat them.
    times = [T0 + timedelta(seconds=s // 3) for s in range(25)]
    await add_events(ctx, "h-ev", "pir-ev", times)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"order": order, "limit": 4}
        if cursor:
            params["cursor"] = cursor
        body = (await staff.get("/api/v1/households/h-ev/events", params=params)).json()
        assert len(body["items"]) <= 4
        seen += [e["id"] for e in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 25 and len(set(seen)) == 25
    assert pages == 7
    everything = (
        await staff.get("/api/v1/households/h-ev/events", params={"order": order, "limit": 100})
    ).json()
    assert [e["id"] for e in everything["items"]] == seen
    assert everything["next_cursor"] is None


@pytest.mark.parametrize(
    "params,reason",
    [
        ({"since": "2026-11-29T06:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-11-29T07:00:00Z", "until": "2026-11-29T06:00:00Z"}, "until must be later"),
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"order": "random"}, "order"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_event_query_is_a_422_naming_the_parameter(
    lite_staff: httpx.AsyncClient, params: dict[str, Any], reason: str
) -> None:
    response = await lite_staff.get("/api/v1/households/h-ev/events", params=params)
    assert response.status_code == 422
    assert reason in detail(response)


async def test_events_of_an_unknown_household_are_a_404(lite_staff: httpx.AsyncClient) -> None:
    response = await lite_staff.get("/api/v1/households/h-nowhere/events")
    assert response.status_code == 404
