"""The console's server side: household import (both databases), cookie auth and CSRF, live stream, links."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook
from pydantic import SecretStr
from sqlalchemy import func, select

from anju.console.links import InvalidLink, make_responder_link, make_responder_token, read_responder_token
from anju.context import Context
from anju.domain import Role
from anju.store.models import AuditRecord, Contact, Household, Resident
from tests.support.api import add_user, client_for
from tests.support.browser import add_home, fresh_database, live_server, migrated_template, press_button
from tests.support.settings import make_settings

HEADER = (
    "household_id,name,address,area,timezone,resident_name,resident_birth_year,contact_name,contact_phone\n"
)


async def _import(ctx: Context, token: str, name: str, data: bytes) -> httpx.Response:
    async with client_for(ctx) as client:
        return await client.post(
            "/api/v1/households/import",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (name, data)},
        )


async def _count(ctx: Context, model: type) -> int:
    async with ctx.db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_with_any_bad_row_writes_nothing_and_reports_every_bad_row(ctx: Context) -> None:
    admin = await add_user(ctx, Role.ADMIN)
    async with client_for(ctx) as client:
        await client.post(
            "/api/v1/households",
            headers={"Authorization": f"Bearer {admin}"},
            json={"id": "h-taken", "name": "已有住户"},
        )
    csv_text = (
        HEADER + "h-a1,钱淑芬,静安区,静安寺,Asia/Shanghai,钱淑芬,1941,钱小东,+8613911112222\n"
        "h-a1,钱淑芬X,,,,,,,\n"  # the name differs from the first row of h-a1
        "h-a2,孙玉兰,黄浦区,外滩,Mars/Olympus,孙玉兰,1939,孙强,+8613911113333\n"
        "h-taken,重复,,,,,,,\n"
        ",无编号,,,,,,,\n"
        "h-a3,周建国,,,,,,周小红,\n"
    )
    response = await _import(ctx, admin, "homes.csv", csv_text.encode())
    assert response.status_code == 422
    body = response.json()
    assert body["imported"] == 0
    problems = {(e["row"], e["column"], e["code"]) for e in body["errors"]}
    assert problems == {
        (3, "name", "conflict"),
        (4, "timezone", "bad_timezone"),
        (5, "household_id", "exists"),
        (6, "household_id", "required"),
        (7, "contact_phone", "incomplete"),
    }
    assert await _count(ctx, Household) == 1  # only the one that was there before
    assert await _count(ctx, Resident) == 0


async def test_import_from_xlsx_creates_households_residents_contacts_and_audit(ctx: Context) -> None:
    admin = await add_user(ctx, Role.ADMIN)
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["h-x1", "钱淑芬", "静安区", "静安寺", None, "钱淑芬", 1941, "钱小东", "+86 139 1111 2222"])
    sheet.append(["h-x1", None, None, None, None, None, None, "老吴", "+8613911113333"])
    sheet.append(["h-x2", "孙玉兰", "黄浦区", "外滩", "Asia/Shanghai", "孙玉兰", 1939.0, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    before = await _count(ctx, AuditRecord)
    response = await _import(ctx, admin, "homes.xlsx", buffer.getvalue())
    assert response.status_code == 201, response.text
    assert response.json() == {
        "imported": 2,
        "households": 2,
        "residents": 2,
        "contacts": 2,
        "ids": ["h-x1", "h-x2"],
    }
    async with ctx.db() as session:
        phones = (await session.scalars(select(Contact.phone).order_by(Contact.priority))).all()
        years = (await session.scalars(select(Resident.birth_year).order_by(Resident.id))).all()
    assert phones == ["+8613911112222", "+8613911113333"]  # normalised to E.164, in file order
    assert years == [1941, 1939]
    assert await _count(ctx, AuditRecord) == before + 2


async def test_only_admins_import_and_an_unreadable_file_is_rejected_with_a_reason(ctx: Context) -> None:
    operator = await add_user(ctx, Role.OPERATOR)
    assert (await _import(ctx, operator, "a.csv", HEADER.encode())).status_code == 403
    admin = await add_user(ctx, Role.ADMIN)
    response = await _import(ctx, admin, "a.csv", b"\xff\xfe\x00garbage")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "bad_file"
    response = await _import(ctx, admin, "a.csv", b"id,name,colour\n1,x,red\n")
    codes = {(e["column"], e["code"]) for e in response.json()["errors"]}
    assert codes == {
        ("id", "unknown_column"),
        ("colour", "unknown_column"),
        ("household_id", "missing_column"),
    }


async def test_cookie_sign_in_needs_the_csrf_header_for_changes_but_not_for_reads(
    sqlite_url: str,
) -> None:
    ctx = Context.create(make_settings(sqlite_url))
    try:
        await add_user(ctx, Role.OPERATOR, "op-csrf")
        async with client_for(ctx) as client:
            login = await client.post(
                "/login", data={"username": "op-csrf", "password": "correct horse battery", "next": "/"}
            )
            assert login.status_code == 303
            assert "httponly" in login.headers.get_list("set-cookie")[0].lower()
            assert "samesite=strict" in login.headers.get_list("set-cookie")[0].lower()
            assert (await client.get("/api/v1/incidents")).status_code == 200
            home = await add_home(ctx, events=False)
            incident_id = await press_button(ctx, home)
            url = f"/api/v1/incidents/{incident_id}/transitions"
            refused = await client.post(url, json={"to": "acknowledged"})
            assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
            wrong = await client.post(url, json={"to": "acknowledged"}, headers={"X-CSRF-Token": "guess"})
            assert wrong.status_code == 403
            ok = await client.post(
                url, json={"to": "acknowledged"}, headers={"X-CSRF-Token": client.cookies["anju_csrf"]}
            )
            assert ok.status_code == 200 and ok.json()["state"] == "acknowledged"
            # A login posted from another site is refused.
            cross = await client.post(
                "/login",
                data={"username": "op-csrf", "password": "correct horse battery"},
                headers={"Origin": "https://evil.example"},
            )
            assert cross.status_code == 403
    finally:
        await ctx.close()


async def test_stream_pushes_a_new_incident_and_the_snapshot_orders_by_severity_then_age(
    tmp_path: Path,
) -> None:
    template = await migrated_template(tmp_path)
    async with live_server(fresh_database(template, tmp_path)) as srv:
        await add_user(srv.ctx, Role.OPERATOR, "op-sse")
        home_a = await add_home(srv.ctx, events=False)
        home_b = await add_home(srv.ctx, events=False)
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as client:
            assert (await client.get("/api/v1/stream")).status_code == 401
            await client.post("/login", data={"username": "op-sse", "password": "correct horse battery"})
            async with client.stream("GET", "/api/v1/stream") as stream:
                lines = stream.aiter_lines()
                seen: list[str] = []

                async def next_event(name: str) -> dict[str, object]:
                    event = None
                    async for line in lines:
                        seen.append(line)
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: ") and event == name:
                            return dict(json.loads(line[6:]))
                    raise AssertionError(f"stream ended before {name!r}: {seen}")

                await asyncio.wait_for(next_event("hello"), 5)
                first = await press_button(srv.ctx, home_a)
                pushed = await asyncio.wait_for(next_event("incident"), 5)
                row = pushed["row"]
                assert isinstance(row, dict)
                assert (
                    row["id"] == first and row["household_name"] == "王秀英" and row["severity"] == "critical"
                )
                assert row["next_escalation_at"] is not None
        # The second household's incident is newer; both critical: the older one comes first.
        second = await press_button(srv.ctx, home_b)
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            await client.post("/login", data={"username": "op-sse", "password": "correct horse battery"})
            snapshot = (await client.get("/api/v1/stream/queue")).json()
        assert [r["id"] for r in snapshot["incidents"]] == [first, second]


def test_responder_token_is_bound_to_incident_contact_and_time() -> None:
    settings = make_settings("sqlite+aiosqlite:///:memory:")
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    token = make_responder_token(settings, 41, 7, now + timedelta(minutes=30))
    grant = read_responder_token(settings, token, now=now)
    assert (grant.incident_id, grant.contact_id) == (41, 7)
    with pytest.raises(InvalidLink) as expired:
        read_responder_token(settings, token, now=now + timedelta(minutes=31))
    assert expired.value.reason == "expired"
    flipped = token[:3] + ("A" if token[3] != "A" else "B") + token[4:]
    with pytest.raises(InvalidLink) as forged:
        read_responder_token(settings, flipped, now=now)
    assert forged.value.reason in ("forged", "malformed")
    other_key = settings.model_copy(update={"secret_key": SecretStr("another-secret-0123456789abcdef")})
    with pytest.raises(InvalidLink):
        read_responder_token(other_key, token, now=now)
    with pytest.raises(InvalidLink):
        read_responder_token(settings, "short", now=now)
    link = make_responder_link(settings, 41, 7, 600, now=now)
    assert link.startswith("http://127.0.0.1:8000/r/") and len(link.rsplit("/", 1)[1]) <= 40
