"""Console tokens: signed, expiring, and revoked by a password reset or a change of role."""

from __future__ import annotations

import pytest

from anju.context import Context
from anju.domain import Role
from tests.support.api import add_user, bearer, client_for, signed_in


@pytest.mark.parametrize("change", [{"password": "a-new-long-password"}, {"role": "supervisor"}])
async def test_a_password_reset_or_new_role_signs_the_user_out(ctx: Context, change: dict[str, str]) -> None:
    token = await add_user(ctx, Role.OPERATOR, username="wang")
    async with client_for(ctx) as client:
        me = await client.get("/api/v1/auth/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        user_id = me.json()["id"]
    async with signed_in(ctx, Role.ADMIN) as admin:
        resp = await admin.patch(f"/api/v1/users/{user_id}", json=change)
        assert resp.status_code == 200, resp.text
    async with client_for(ctx) as client:
        assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401


async def test_an_edit_of_the_display_name_keeps_the_user_signed_in(ctx: Context) -> None:
    token = await add_user(ctx, Role.OPERATOR, username="li")
    async with client_for(ctx) as client:
        user_id = (await client.get("/api/v1/auth/me", headers=bearer(token))).json()["id"]
    async with signed_in(ctx, Role.ADMIN) as admin:
        resp = await admin.patch(f"/api/v1/users/{user_id}", json={"display_name": "值班员小李"})
        assert resp.status_code == 200, resp.text
    async with client_for(ctx) as client:
        assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200


async def test_a_token_signed_with_another_secret_is_refused(ctx: Context) -> None:
    import jwt

    forged = jwt.encode(
        {"sub": "1", "role": "admin", "exp": 4102444800, "ver": 0},
        "not-the-secret-but-long-enough-for-hs256-keys",
        "HS256",
    )
    async with client_for(ctx) as client:
        assert (await client.get("/api/v1/auth/me", headers=bearer(forged))).status_code == 401
