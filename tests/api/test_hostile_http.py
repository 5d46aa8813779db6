"""HTTP under hostile use: throttled, audited logins; logout; weak passwords; out-of-range input; nosniff."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from anju import cli
from anju.accounts import create_user
from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import AuditRecord, Contact, Household, RevokedToken
from anju.web.app import create_app
from anju.web.deps import decode_token
from anju.web.signin import ThrottledSummary
from anju.web.throttle import ADDRESS_FAILURES, USER_FAILURES, LoginThrottle
from tests.support.api import (
    PASSWORD,
    add_user,
    bearer,
    detail,
    household_body,
    sqlite_context,
    webhook_paths,
)
from tests.support.browser import live_server

ATTACKER = "203.0.113.7"
OPERATOR_DESK = "198.51.100.20"


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client on ``app`` whose requests come from ``address`` (the throttle keys on it)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40_000), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://anju.test")


@pytest.fixture
async def lite(sqlite_url: str) -> AsyncIterator[Context]:
    """SQLite only, for behaviour that does not depend on the database (throttle, headers, rules)."""
    async with sqlite_context(sqlite_url) as context:
        yield context


@pytest.fixture
async def app(ctx: Context) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
async def lite_app(lite: Context) -> FastAPI:
    return create_app(lite)


@pytest.fixture
async def attacker(lite_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(lite_app, ATTACKER) as client:
        yield client


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def _logins_audited(ctx: Context) -> list[AuditRecord]:
    async with ctx.db() as session:
        rows = await session.scalars(
            select(AuditRecord).where(AuditRecord.action == "auth.login").order_by(AuditRecord.id)
        )
        return list(rows)


async def test_password_guessing_for_one_user_is_answered_429_with_retry_after(
    lite: Context, attacker: httpx.AsyncClient
) -> None:
    await add_user(lite, Role.OPERATOR, username="wang")
    for _ in range(USER_FAILURES):
        assert (await _login(attacker, "wang", "not-the-password-1")).status_code == 401
    throttled = await _login(attacker, "wang", "not-the-password-2")
    assert throttled.status_code == 429, throttled.text
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 15 * 60
    assert "too many failed sign-ins" in detail(throttled) and "登录失败次数过多" in detail(throttled)
    # While throttled even the right password is not tried: guessing cannot go on.
    assert (await _login(attacker, "wang", PASSWORD)).status_code == 429


async def test_a_success_resets_the_users_counter_and_only_failures_count(
    lite: Context, attacker: httpx.AsyncClient
) -> None:
    await add_user(lite, Role.OPERATOR, username="li")
    for _ in range(USER_FAILURES - 1):
        assert (await _login(attacker, "li", "typo-typo-typo")).status_code == 401
    assert (await _login(attacker, "li", PASSWORD)).status_code == 200
    # The success cleared the four failures: four more are still only 401s, not a 429.
    for _ in range(USER_FAILURES - 1):
        assert (await _login(attacker, "li", "typo-typo-typo")).status_code == 401
    # Successes never count: signing in again and again throttles nobody.
    for _ in range(3):
        assert (await _login(attacker, "li", PASSWORD)).status_code == 200


async def test_one_address_guessing_many_usernames_is_throttled_but_other_addresses_are_not(
    lite: Context, lite_app: FastAPI, attacker: httpx.AsyncClient
) -> None:
    await add_user(lite, Role.OPERATOR, username="zhao")
    # The production limit is ADDRESS_FAILURES; a smaller one keeps the test short, same mechanism.
    limit = 6
    assert ADDRESS_FAILURES > USER_FAILURES
    lite_app.state.login_throttle = LoginThrottle(address_failures=limit)
    for i in range(limit):
        assert (await _login(attacker, f"guess-{i}", "password123")).status_code == 401
    blocked = await _login(attacker, "zhao", PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    async with client_at(lite_app, OPERATOR_DESK) as desk:
        assert (await _login(desk, "zhao", PASSWORD)).status_code == 200
    records = await _logins_audited(lite)
    assert records[-2].content["throttled_by"] == "address"


async def test_a_flood_of_refused_attempts_is_audited_once_a_minute_per_address_with_its_count(
    lite: Context, lite_app: FastAPI, attacker: httpx.AsyncClient
) -> None:
    # Each audit record takes the chain lock that incident changes take: a flood must not become one
    # write per refused guess. A 0.3 s summary interval stands in for the production minute.
    lite_app.state.throttled_summary = ThrottledSummary(interval_s=0.3)
    for _ in range(USER_FAILURES):
        assert (await _login(attacker, "zhou", "wrong-password-1")).status_code == 401
    before = len(await _logins_audited(lite))
    for _ in range(40):
        assert (await _login(attacker, "zhou", "wrong-password-1")).status_code == 429
    flood = (await _logins_audited(lite))[before:]
    assert [(r.content["outcome"], r.content["refused_since_last"]) for r in flood] == [("throttled", 0)]
    await asyncio.sleep(0.35)
    assert (await _login(attacker, "zhou", "wrong-password-1")).status_code == 429
    later = (await _logins_audited(lite))[before:]
    assert [r.content["refused_since_last"] for r in later] == [0, 39]


async def test_every_login_is_audited_with_name_address_and_outcome_never_the_password(
    ctx: Context, app: FastAPI
) -> None:
    await add_user(ctx, Role.OPERATOR, username="sun")
    async with client_at(app, ATTACKER) as attacker:
        await _attempt_every_outcome(attacker)
    await _assert_logins_audited(ctx)


SECRET_GUESS = "guess-" + uuid.uuid4().hex


async def _attempt_every_outcome(attacker: httpx.AsyncClient) -> None:
    secret_guess = SECRET_GUESS
    assert (await _login(attacker, "sun", PASSWORD)).status_code == 200
    assert (await _login(attacker, "sun", secret_guess)).status_code == 401
    assert (await _login(attacker, "no.such.user", secret_guess)).status_code == 401
    form = "username=" + "evil%00" + "%ED%A0%80" + "name&password=" + secret_guess
    response = await attacker.post(
        "/api/v1/auth/token", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 401
    for _ in range(USER_FAILURES):
        await _login(attacker, "sun", secret_guess)


async def _assert_logins_audited(ctx: Context) -> None:
    secret_guess = SECRET_GUESS
    hostile = "evil\x00"  # NUL: PostgreSQL refuses it unescaped (bytes not UTF-8 arrive as U+FFFD)
    records = await _logins_audited(ctx)
    outcomes = [(r.actor, r.content["outcome"]) for r in records]
    assert outcomes[:3] == [("sun", "success"), ("sun", "failure"), ("no.such.user", "failure")]
    assert outcomes[3][0].startswith("evil\\x00") and outcomes[3][1] == "failure"
    assert not any(r.actor.startswith(hostile) for r in records)
    assert outcomes[-1] == ("sun", "throttled") and records[-1].content["throttled_by"] == "user"
    assert all(r.content["address"] == ATTACKER and r.content["via"] == "api" for r in records)
    text = json.dumps([(r.actor, r.entity_id, r.content) for r in records], ensure_ascii=False)
    assert secret_guess not in text and PASSWORD not in text


async def test_console_sign_in_shares_the_throttle_and_the_audit(lite: Context, lite_app: FastAPI) -> None:
    await add_user(lite, Role.OPERATOR, username="qian")
    async with client_at(lite_app, ATTACKER) as browser:
        for _ in range(USER_FAILURES):
            page = await browser.post("/login", data={"username": "qian", "password": "wrong-wrong-1"})
            assert page.status_code == 401
        page = await browser.post("/login", data={"username": "qian", "password": PASSWORD})
        assert page.status_code == 429 and int(page.headers["Retry-After"]) >= 1
        assert "登录失败次数过多" in page.text
        assert (await _login(browser, "qian", PASSWORD)).status_code == 429
    records = await _logins_audited(lite)
    assert [r.content["via"] for r in records].count("console") == USER_FAILURES + 1


async def test_logout_revokes_exactly_the_calling_token(ctx: Context, app: FastAPI) -> None:
    await add_user(ctx, Role.OPERATOR, username="zhou")
    async with client_at(app, OPERATOR_DESK) as client:
        first = (await _login(client, "zhou", PASSWORD)).json()["access_token"]
        second = (await _login(client, "zhou", PASSWORD)).json()["access_token"]
        out = await client.post("/api/v1/auth/logout", headers=bearer(first))
        assert out.status_code == 204, out.text
        for path in ("/api/v1/auth/me", "/api/v1/households", "/api/v1/incidents"):
            assert (await client.get(path, headers=bearer(first))).status_code == 401, path
        assert (await client.post("/api/v1/auth/logout", headers=bearer(first))).status_code == 401
        assert (await client.get("/api/v1/auth/me", headers=bearer(second))).status_code == 200
        # The console and the live stream refuse it too (they read the same token).
        page = await client.get("/", headers=bearer(first))
        assert page.status_code == 303 and "/login" in page.headers["location"]
        assert (await client.get("/api/v1/stream/queue", headers=bearer(first))).status_code == 401
    claims = decode_token(ctx, first)
    assert claims is not None
    async with ctx.db() as session:
        revoked = await session.get(RevokedToken, claims.jti)
        logouts = list(await session.scalars(select(AuditRecord).where(AuditRecord.action == "auth.logout")))
    assert revoked is not None and revoked.expires_at == claims.expires_at
    assert [(r.actor, r.content["address"]) for r in logouts] == [("zhou", OPERATOR_DESK)]


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_log_out_and_an_anonymous_logout_is_401(
    lite: Context, lite_app: FastAPI, role: Role
) -> None:
    token = await add_user(lite, role)
    async with client_at(lite_app, OPERATOR_DESK) as client:
        assert (await client.post("/api/v1/auth/logout")).status_code == 401
        assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
        assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_console_cookie_logout_needs_csrf_and_revokes_the_cookie_token(
    lite: Context, lite_app: FastAPI
) -> None:
    await add_user(lite, Role.OPERATOR, username="wu")
    async with client_at(lite_app, OPERATOR_DESK) as browser:
        signed = await browser.post("/login", data={"username": "wu", "password": PASSWORD})
        assert signed.status_code == 303
        token, csrf = browser.cookies["anju_token"], browser.cookies["anju_csrf"]
        assert (await browser.post("/api/v1/auth/logout")).status_code == 403  # no CSRF header
        out = await browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
    async with client_at(lite_app, OPERATOR_DESK) as other:
        assert (await other.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


WEAK = [
    ("9 characters", "Ab3$xyz9q", "at least 10"),
    ("common", "password1234", "password refused"),
    ("keyboard walk", "qwertyuiop", "password refused"),
    ("repeats", "aaaaaaaaaaaa", "password refused"),
]


@pytest.mark.parametrize(("case", "password", "reason"), WEAK, ids=[w[0] for w in WEAK])
async def test_a_weak_password_is_refused_by_api_create_and_update(
    lite: Context, lite_app: FastAPI, case: str, password: str, reason: str
) -> None:
    admin = await add_user(lite, Role.ADMIN)
    async with client_at(lite_app, OPERATOR_DESK) as client:
        client.headers.update(bearer(admin))
        created = await client.post(
            "/api/v1/users", json={"username": "feng", "password": password, "role": "operator"}
        )
        assert created.status_code == 422 and reason in detail(created), (case, created.text)
        ok = await client.post(
            "/api/v1/users", json={"username": "feng", "password": "quiet river lantern", "role": "operator"}
        )
        assert ok.status_code == 201, ok.text
        changed = await client.patch(f"/api/v1/users/{ok.json()['id']}", json={"password": password})
        assert changed.status_code == 422 and reason in detail(changed), (case, changed.text)
        assert (await _login(client, "feng", "quiet river lantern")).status_code == 200


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str) -> str:
    """Run ``anju ARGS`` in this process (as the console script does); return what it printed."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return f"{code}: {captured.out}{captured.err}"


def test_the_cli_refuses_weak_passwords_and_a_responder_without_a_linked_contact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    for name in [k for k in os.environ if k.startswith("ANJU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ANJU_DATABASE_URL", url)
    contact_id = asyncio.run(_household_with_contact(url))
    add = ("user", "add")
    common = _cli(monkeypatch, capsys, "password1234\n", *add, "chen", "--role", "operator")
    assert common.startswith("2:") and "password refused" in common and "密码" in common
    short = _cli(monkeypatch, capsys, "abc-1234\n", *add, "chen", "--role", "operator")
    assert short.startswith("2:") and "at least 10" in short
    lone = _cli(monkeypatch, capsys, "quiet river lantern\n", *add, "grid", "--role", "responder")
    assert lone.startswith("2:") and "responder needs contact_id" in lone and "联系人" in lone
    missing = _cli(
        monkeypatch, capsys, "quiet river lantern\n", *add, "grid", "--role", "responder", "--contact", "4242"
    )
    assert missing.startswith("2:") and "contact 4242 does not exist" in missing
    linked = _cli(
        monkeypatch,
        capsys,
        "quiet river lantern\n",
        *add,
        "grid",
        "--role",
        "responder",
        "--contact",
        str(contact_id),
    )
    assert linked.startswith("0:") and "created" in linked, linked


async def _household_with_contact(url: str) -> int:
    await upgrade(url)
    async with sqlite_context(url) as ctx, transaction(ctx.db) as session:
        now = ctx.clock.now()
        session.add(
            Household(id="h-cli", name="王秀英", timezone="Asia/Shanghai", created_at=now, updated_at=now)
        )
        await session.flush()
        contact = Contact(
            household_id="h-cli", name="网格员小刘", relation="grid_worker", phone="+8613800138000"
        )
        session.add(contact)
        await session.flush()
        return contact.id


# --- numbers and ids past a column's range -------------------------------------------------------

OUT_OF_RANGE_INT = ["99999999999999999999", str(2**63), "2147483648", "0", "-1", "1e30", "NaN"]
OUT_OF_RANGE_TEXT_ID = ["x" * 65]
HOSTILE_QUERY_INT = ["1e30", "-1", str(2**63), "99999999999999999999", "1.5"]
HOSTILE_TIMES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "1e30", "2026-13-40T00:00:00Z"]


def _api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI description lists: the routes a client can reach."""
    return sorted(
        (method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations
    )


def _is_big_id(path: str) -> bool:
    return "notification_id" in path


#: Every provider's webhook paths: signed or token-guarded, so a forged call may also be refused 403.
WEBHOOKS = webhook_paths()


@pytest.fixture
async def admin_client(ctx: Context, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    token = await add_user(ctx, Role.ADMIN)
    async with client_at(app, OPERATOR_DESK) as client:
        client.headers.update(bearer(token))
        yield client


def _refused(response: httpx.Response, where: str, allowed: tuple[int, ...] = (404, 422)) -> None:
    assert response.status_code in allowed, (where, response.status_code, response.text[:300])


async def test_ids_past_a_columns_range_answer_404_or_422_on_every_route(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    checked = 0
    for method, path in _api_routes(app):
        params = re.findall(r"\{(\w+)\}", path)
        if not params:
            continue
        allowed = (403, 404, 422) if path in WEBHOOKS else (404, 422)
        textual = all(p in ("household_id", "device_id") for p in params)
        values = OUT_OF_RANGE_TEXT_ID if textual else OUT_OF_RANGE_INT
        if _is_big_id(path):
            values = [v for v in values if v != "2147483648"]
        for value in values:
            url = re.sub(r"\{\w+\}", value, path)
            response = await admin_client.request(method, url, json={})
            _refused(response, f"{method} {url}", allowed)
            if response.status_code == 422 and path not in WEBHOOKS:
                locs = [e["loc"][0] for e in response.json()["detail"] if isinstance(e, dict)]
                assert "path" in locs, (method, url, response.text[:300])
            checked += 1
        if method == "GET":
            top = "9" * 64 if textual else "2147483647"
            response = await admin_client.get(re.sub(r"\{\w+\}", top, path))
            _refused(response, f"GET {path} at the top of the range", (404,))
    assert checked >= 40


async def test_query_numbers_and_times_out_of_range_answer_422_on_every_route(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    spec = app.openapi()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            concrete = re.sub(r"\{\w+\}", "1", path)
            for param in op.get("parameters", []):
                if param["in"] != "query":
                    continue
                kinds = {param["schema"].get("type")} | {
                    s.get("type") for s in param["schema"].get("anyOf", [])
                }
                fmts = {param["schema"].get("format")} | {
                    s.get("format") for s in param["schema"].get("anyOf", [])
                }
                values = HOSTILE_QUERY_INT if "integer" in kinds else []
                values = values + (HOSTILE_TIMES if "date-time" in fmts else [])
                for value in values:
                    response = await admin_client.request(
                        method.upper(), concrete, params={param["name"]: value}
                    )
                    _refused(response, f"{method} {path}?{param['name']}={value}", (422,))
                    checked += 1
    assert checked >= 60


TEXT_NO_DATABASE_STORES = [
    "/api/v1/households?q=%00",
    "/api/v1/devices?household_id=a%00b",
    "/api/v1/audit?actor=%00",
    "/api/v1/incidents?household_id=" + "h" * 65,
    "/api/v1/households/h%00h",
]


async def test_text_a_database_cannot_store_is_refused_with_422(admin_client: httpx.AsyncClient) -> None:
    for url in TEXT_NO_DATABASE_STORES:
        _refused(await admin_client.get(url), url, (422,))


async def test_a_body_with_nul_or_an_out_of_range_number_is_a_4xx_never_a_5xx(
    admin_client: httpx.AsyncClient,
) -> None:
    hostile = household_body("h-nul", name="王\u0000秀英")
    response = await admin_client.post("/api/v1/households", json=hostile)
    # SQLite stores NUL; PostgreSQL refuses it, which is the client's 422, not the server's 500.
    assert response.status_code in (201, 422), response.text
    surrogate = await admin_client.post(
        "/api/v1/households",
        content='{"id": "h-sur", "name": "a\\ud800b", "timezone": "Asia/Shanghai"}',
        headers={"Content-Type": "application/json"},
    )
    _refused(surrogate, "lone surrogate in a body", (422,))
    assert "\\ud800" in surrogate.text  # echoed escaped, so the answer itself can be encoded
    huge = await admin_client.post(
        "/api/v1/users",
        json={"username": "r1", "password": "quiet river lantern", "role": "responder", "contact_id": 10**20},
    )
    _refused(huge, "contact_id 10**20", (422,))
    owner = await admin_client.post("/api/v1/incidents/1/owner", json={"user_id": 2**40})
    _refused(owner, "owner user_id 2**40", (422,))


# --- X-Content-Type-Options on every answer --------------------------------------------------------


async def test_every_response_says_nosniff_errors_and_static_files_included(
    lite: Context, lite_app: FastAPI
) -> None:
    app = lite_app
    admin_client = client_at(app, OPERATOR_DESK)
    admin_client.headers.update(bearer(await add_user(lite, Role.ADMIN)))

    async def boom() -> dict[str, Any]:
        raise RuntimeError("an unforeseen bug")

    app.add_api_route("/api/v1/test-only/boom", boom, methods=["GET"])
    async with client_at(app, ATTACKER) as anonymous:
        answers = {
            "200 health": await anonymous.get("/healthz"),
            "200 static": await anonymous.get("/static/console.css"),
            "200 login page": await anonymous.get("/login"),
            "303 console": await anonymous.get("/"),
            "401": await anonymous.get("/api/v1/incidents"),
            "404 route": await anonymous.get("/api/v1/no-such-route"),
            "404 static": await anonymous.get("/static/no-such.js"),
            "422 form": await anonymous.post("/api/v1/auth/token", data={}),
            "422 nul": await anonymous.get("/api/v1/households?q=%00"),
            "500": await anonymous.get("/api/v1/test-only/boom"),
        }
    answers["200 api"] = await admin_client.get("/api/v1/households")
    answers["404 record"] = await admin_client.get("/api/v1/incidents/2147483647")
    answers["422 range"] = await admin_client.get("/api/v1/incidents/99999999999999999999")
    answers["200 openapi"] = await admin_client.get("/openapi.json")
    await admin_client.aclose()
    for name, response in answers.items():
        expected = int(name.split()[0])
        assert response.status_code == expected, (name, response.status_code, response.text[:200])
        assert response.headers.get("x-content-type-options") == "nosniff", name
    assert "服务器内部错误" in answers["500"].json()["detail"]
    assert "an unforeseen bug" not in answers["500"].text


async def test_nosniff_is_set_on_the_live_service_served_by_uvicorn(sqlite_url: str) -> None:
    async with live_server(sqlite_url) as server, httpx.AsyncClient(base_url=server.base_url) as client:
        for path in ("/healthz", "/static/console.js", "/api/v1/nowhere", "/api/v1/incidents/-1"):
            response = await client.get(path)
            assert response.headers.get("x-content-type-options") == "nosniff", path


async def test_create_user_through_accounts_applies_the_same_password_rule(lite: Context) -> None:
    async with transaction(lite.db) as session:
        with pytest.raises(ValueError, match="password refused"):
            await create_user(
                session, username="demo-like", password="1234567890", role=Role.OPERATOR, clock=lite.clock
            )
