"""Dependencies shared by every router: context, session, current user, role checks."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import AfterValidator, Field
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import RealClock
from anju.context import Context
from anju.dispatch import access
from anju.domain import Role
from anju.store.models import RevokedToken, User

ALGORITHM = "HS256"
_WALL = RealClock()
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


CtxDep = Annotated[Context, Depends(get_context)]


async def get_session(ctx: CtxDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with ctx.db() as session, session.begin():
        yield session


#: ``scope="function"``: the transaction commits before the response is sent, so a 201 is never
#: followed by a failed commit and a client that reads right after its write sees it.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


#: The largest id or count a request may name: every integer column holds it (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1
#: A numeric id in a path: out of range is 422, in range but absent 404 — never a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
#: The largest id of a ``BigInteger`` table (events, notifications, audit records).
MAX_BIG_ID = 2**63 - 1
BigIdPath = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
#: A text id in a path (households, devices: ``String(64)`` columns).
TextIdPath = Annotated[str, Path(min_length=1, max_length=64)]
#: How many rows a page skips.
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
#: A numeric id in a request body (e.g. ``contact_id``).
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
#: Years an instant in a request may name: room for window arithmetic at both ends of ``datetime``.
INSTANT_YEARS = (1900, 9000)


def _storable_instant(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a UTC offset, e.g. 2026-11-01T00:00:00+08:00 (时间须带时区偏移)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("time out of range (时间超出范围)") from err
    if not INSTANT_YEARS[0] <= utc.year <= INSTANT_YEARS[1]:
        raise ValueError(f"time out of range: years {INSTANT_YEARS[0]}–{INSTANT_YEARS[1]} (时间超出范围)")
    return utc


#: An RFC 3339 time with an offset, converted to UTC; out of range is 422, never a database error.
Instant = Annotated[datetime, AfterValidator(_storable_instant)]


def issue_token(ctx: Context, user: User) -> str:
    # Wall time on purpose: PyJWT checks ``exp`` against it, whatever a simulated clock says.
    now = _WALL.now()
    claims = {
        "sub": str(user.id),
        # A unique id per token: logout revokes this one token (``revoked_tokens``), not the user's others.
        "jti": secrets.token_urlsafe(16),
        "role": user.role,
        "ver": user.token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ctx.settings.token_ttl_s)).timestamp()),
    }
    return jwt.encode(claims, ctx.settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


#: The console carries the same JWT in an HttpOnly, SameSite=Strict cookie.
TOKEN_COOKIE = "anju_token"
#: Double-submit CSRF: unsafe cookie-authenticated requests echo this cookie in ``CSRF_HEADER``.
CSRF_COOKIE = "anju_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_from_cookie(request: Request) -> str | None:
    """The console's cookie token; an unsafe request must also carry the matching CSRF header."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    if request.method not in _SAFE_METHODS:
        expected = request.cookies.get(CSRF_COOKIE, "")
        given = request.headers.get(CSRF_HEADER, "")
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return token


_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
)


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, its id (for revocation) and when it expires."""

    user_id: int
    jti: str
    expires_at: datetime
    version: int


def decode_token(ctx: Context, token: str) -> TokenClaims | None:
    """The claims of a well-signed, unexpired token that carries a ``jti``; None for anything else."""
    try:
        claims = jwt.decode(
            token,
            ctx.settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "jti"]},
        )
        return TokenClaims(
            user_id=int(claims["sub"]),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            version=int(claims.get("ver", 0)),
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        return None


async def user_for_token(session: AsyncSession, claims: TokenClaims) -> User | None:
    """The active user a token names, unless it was revoked (logout) or outdated (reset, new role)."""
    if not 1 <= claims.user_id <= MAX_ID or len(claims.jti) > 64:
        return None
    if await session.get(RevokedToken, claims.jti) is not None:
        return None
    user = await session.get(User, claims.user_id)
    if user is None or not user.active or claims.version != user.token_version:
        return None
    await access.resolve_responder(session, user)  # which incidents a responder is sent to
    return user


async def get_token_claims(
    request: Request, ctx: CtxDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> TokenClaims:
    """The bearer header's (or the console cookie's) token, decoded; 401 without a valid one."""
    if not token:
        token = token_from_cookie(request)
    claims = decode_token(ctx, token) if token else None
    if claims is None:
        raise _UNAUTHORIZED
    return claims


ClaimsDep = Annotated[TokenClaims, Depends(get_token_claims)]


async def get_current_user(session: SessionDep, claims: ClaimsDep) -> User:
    user = await user_for_token(session, claims)
    if user is None:
        raise _UNAUTHORIZED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency that admits only ``roles`` (403 for the others)."""
    allowed = frozenset(r.value for r in roles)

    async def _check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role!r} may not do this")
        return user

    return _check


STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
Staff = Annotated[User, Depends(require_roles(*STAFF))]
Operator = Annotated[User, Depends(require_roles(Role.OPERATOR, Role.ADMIN))]
Supervisor = Annotated[User, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
AnyUser = CurrentUser
