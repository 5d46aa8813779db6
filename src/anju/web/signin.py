"""Sign-in and sign-out for the API and the console: throttled, and every attempt audited.

Each attempt that reaches the password check — a success, a wrong password, an unknown name — is
one audit record in its own transaction (a failed login must not roll its record back), with the
attempted username (escaped) as actor, the client address and the outcome; never the password.
Attempts the throttle refuses are audited as one record per address a minute, with their count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from anyio import to_thread
from sqlalchemy import delete, select
from starlette.requests import Request

from anju import audit
from anju.accounts import hash_password, verify_password
from anju.clock import RealClock
from anju.context import Context
from anju.store.db import transaction
from anju.store.models import RevokedToken, User
from anju.store.safe import storable
from anju.web.deps import TokenClaims, issue_token
from anju.web.throttle import LoginThrottle

#: Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("anju-timing-equaliser")
#: Revocations are purged once their token has expired, on the wall clock that ``exp`` uses.
_WALL = RealClock()
#: What the audit trail keeps of an attempted username.
USERNAME_LIMIT = 128
#: Refused (throttled) attempts from one address: at most one audit record in this many seconds.
THROTTLED_AUDIT_S = 60.0
_SUMMARY_KEYS_MAX = 10_000


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
    refused_since_last: int | None = None,
) -> None:
    content: dict[str, object] = {
        "address": storable(address, limit=64),
        "outcome": outcome.value,
        "via": via,
    }
    if why:
        content["throttled_by"] = why
    if refused_since_last is not None:
        content["refused_since_last"] = refused_since_last
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
        return await _attempt(
            ctx,
            throttle,
            username=username,
            password=password,
            address=address,
            via=via,
            summary=throttled_summary_of(request),
        )


class ThrottledSummary:
    """Refused attempts from one address are audited once a minute with their count, not one each.

    A flood of refused guesses must not become a flood of audit writes: every audit record takes the
    chain lock that incident changes take too, so one record per address a minute bounds what an
    attacker can make the alarm path wait for. The count of refusals folded in since the last record
    travels in the next one (``refused_since_last``).
    """

    def __init__(self, interval_s: float = THROTTLED_AUDIT_S) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._folded: dict[str, int] = {}

    def due(self, address: str) -> int | None:
        """The refusals folded in since the last record when one is due now, else None (fold this)."""
        now = time.monotonic()
        last = self._last.get(address)
        if last is not None and now - last < self.interval_s:
            self._folded[address] = self._folded.get(address, 0) + 1
            return None
        if len(self._last) > _SUMMARY_KEYS_MAX:  # bounded memory under an address-rotating flood
            cutoff = now - self.interval_s
            for key in [k for k, t in self._last.items() if t < cutoff]:
                del self._last[key]
                self._folded.pop(key, None)
        self._last[address] = now
        return self._folded.pop(address, 0)


def throttled_summary_of(request: Request) -> ThrottledSummary:
    state = request.app.state
    summary: ThrottledSummary | None = getattr(state, "throttled_summary", None)
    if summary is None:
        summary = state.throttled_summary = ThrottledSummary()
    return summary


async def _attempt(
    ctx: Context,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    address: str,
    via: str,
    summary: ThrottledSummary,
) -> Attempt:
    verdict = await throttle.check(username, address)
    if not verdict.allowed:
        folded = summary.due(address)
        if folded is not None:
            await _audit_login(
                ctx,
                username=username,
                address=address,
                outcome=LoginOutcome.THROTTLED,
                via=via,
                user_id=None,
                why=verdict.reason,
                refused_since_last=folded,
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
