"""Sign-in and sign-out for the API and the console: throttled, and every attempt audited.

Each attempt — a success, a wrong password, an unknown name, a refusal by the throttle — is one
audit record in its own transaction (a failed login must not roll its record back), with the
attempted username (escaped) as actor, the client address and the outcome; never the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from anyio import to_thread
from sqlalchemy import delete, select
from starlette.requests import Request

from anju.accounts import hash_password, verify_password
from anju.api.deps import TokenClaims, issue_token
from anju.api.throttle import LoginThrottle
from anju.clock import RealClock
from anju.context import Context
from anju.dispatch import audit
from anju.store.db import transaction
from anju.store.models import RevokedToken, User
from anju.store.safe import storable

#: Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("anju-timing-equaliser")
#: Revocations are purged once their token has expired, on the wall clock that ``exp`` uses.
_WALL = RealClock()
#: What the audit trail keeps of an attempted username.
USERNAME_LIMIT = 128


class LoginOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class Attempt:
    """How a sign-in ended: the user and token on success, the wait when throttled."""

    outcome: LoginOutcome
    user: User | None = None
    token: str | None = None
    retry_after_s: int = 0


def client_address(request: Request) -> str:
    """The peer address (behind a reverse proxy: the proxy's; see docs/operations.md)."""
    return request.client.host if request.client else "unknown"


def throttle_of(request: Request) -> LoginThrottle:
    """The application's one throttle (created on first use), shared by the API and the console."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle()
        state.login_throttle = throttle
    return throttle


async def _audit_login(
    ctx: Context,
    *,
    username: str,
    address: str,
    outcome: LoginOutcome,
    via: str,
    user_id: int | None,
    why: str,
) -> None:
    content = {"address": storable(address, limit=64), "outcome": outcome.value, "via": via}
    if why:
        content["throttled_by"] = why
    async with transaction(ctx.db) as session:
        await audit.record(
            session,
            at=ctx.clock.now(),
            actor=storable(username, limit=USERNAME_LIMIT),
            action="auth.login",
            entity="user",
            entity_id=user_id if user_id is not None else storable(username, limit=64),
            content=content,
        )


def _could_be_username(name: str) -> bool:
    # A name no user can have is not looked up: NUL or a lone surrogate would make PostgreSQL refuse.
    return 0 < len(name) <= 64 and storable(name) == name


async def sign_in(ctx: Context, request: Request, *, username: str, password: str, via: str) -> Attempt:
    """Check the throttle, then the password; count a failure, clear on success; audit either way."""
    throttle = throttle_of(request)
    address = client_address(request)
    async with throttle.serialised(address):
        return await _attempt(ctx, throttle, username=username, password=password, address=address, via=via)


async def _attempt(
    ctx: Context, throttle: LoginThrottle, *, username: str, password: str, address: str, via: str
) -> Attempt:
    verdict = await throttle.check(username, address)
    if not verdict.allowed:
        await _audit_login(
            ctx,
            username=username,
            address=address,
            outcome=LoginOutcome.THROTTLED,
            via=via,
            user_id=None,
            why=verdict.reason,
        )
        return Attempt(LoginOutcome.THROTTLED, retry_after_s=verdict.retry_after_s)
    user = None
    if _could_be_username(username):
        async with ctx.db() as session:
            user = await session.scalar(select(User).where(User.username == username))
    stored_hash = user.password_hash if user is not None else _DUMMY_HASH
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop that serves alarms.
    ok = await to_thread.run_sync(verify_password, stored_hash, password)
    if user is None or not ok or not user.active:
        await throttle.failed(username, address)
        await _audit_login(
            ctx,
            username=username,
            address=address,
            outcome=LoginOutcome.FAILURE,
            via=via,
            user_id=user.id if user is not None else None,
            why="",
        )
        return Attempt(LoginOutcome.FAILURE)
    await throttle.succeeded(username)
    await _audit_login(
        ctx,
        username=username,
        address=address,
        outcome=LoginOutcome.SUCCESS,
        via=via,
        user_id=user.id,
        why="",
    )
    return Attempt(LoginOutcome.SUCCESS, user=user, token=issue_token(ctx, user))


async def revoke(ctx: Context, claims: TokenClaims, *, actor: str, address: str, via: str) -> None:
    """Revoke one token (logout) and purge revocations whose tokens have expired anyway; audited."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < _WALL.now()))
        if await session.get(RevokedToken, claims.jti) is None:
            session.add(
                RevokedToken(
                    jti=claims.jti, user_id=claims.user_id, expires_at=claims.expires_at, revoked_at=now
                )
            )
        await audit.record(
            session,
            at=now,
            actor=storable(actor, limit=USERNAME_LIMIT),
            action="auth.logout",
            entity="user",
            entity_id=claims.user_id,
            content={"address": storable(address, limit=64), "via": via},
        )
