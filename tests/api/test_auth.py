"""Login with a password, bearer tokens, and what happens with bad ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import update

from anju.context import Context
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import User
from anju.web.deps import ALGORITHM
from tests.support.api import PASSWORD, add_user, bearer, client_for, detail, sqlite_context


@pytest.fixture
async def ctx(sqlite_url: str) -> AsyncIterator[Context]:
    """SQLite only: login reads one user row; the storage tests cover both databases."""
    async with sqlite_context(sqlite_url) as context:
        yield context


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(ctx) as c:
        yield c


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_password_login_returns_a_bearer_token_that_identifies_the_user(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    await add_user(ctx, Role.OPERATOR, username="zhang.wei")
    response = await _login(client, "zhang.wei", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "zhang.wei"
    assert me.json()["role"] == "operator"
    assert "password_hash" not in me.json()


@pytest.mark.parametrize("username,password", [("zhang.wei", "wrong password"), ("nobody", PASSWORD)])
async def test_wrong_password_or_unknown_user_gets_401_with_a_clear_message(
    ctx: Context, client: httpx.AsyncClient, username: str, password: str
) -> None:
    await add_user(ctx, Role.OPERATOR, username="zhang.wei")
    response = await _login(client, username, password)
    assert response.status_code == 401
    assert "incorrect username or password" in detail(response)
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_disabled_account_can_neither_log_in_nor_use_an_old_token(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    token = await add_user(ctx, Role.OPERATOR, username="leaver")
    async with transaction(ctx.db) as session:
        await session.execute(update(User).where(User.username == "leaver").values(active=False))
    assert (await _login(client, "leaver", PASSWORD)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_token_signed_with_another_key_or_expired_is_refused(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    token = await add_user(ctx, Role.ADMIN)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "some-other-secret-0123456789abcdef", algorithm=ALGORITHM)
    now = ctx.clock.now()
    expired = jwt.encode(
        claims | {"exp": int((now - timedelta(minutes=1)).timestamp())},
        ctx.settings.secret_key.get_secret_value(),
        algorithm=ALGORITHM,
    )
    for bad in (forged, expired, "not-a-jwt"):
        response = await client.get("/api/v1/households", headers=bearer(bad))
        assert response.status_code == 401, bad
    assert (await client.get("/api/v1/households", headers=bearer(token))).status_code == 200
