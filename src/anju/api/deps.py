"""Dependencies shared by every router: context, session, current user, role checks."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import RealClock
from anju.context import Context
from anju.domain import Role
from anju.store.models import User

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


def issue_token(ctx: Context, user: User) -> str:
    # Wall time on purpose: PyJWT checks ``exp`` against it, whatever a simulated clock says.
    now = _WALL.now()
    claims = {
        "sub": str(user.id),
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


async def get_current_user(
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        token = token_from_cookie(request)
    if not token:
        raise _UNAUTHORIZED
    try:
        claims = jwt.decode(
            token,
            ctx.settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError as err:
        raise _UNAUTHORIZED from err
    user = await session.get(User, int(claims["sub"]))
    if user is None or not user.active or claims.get("ver", 0) != user.token_version:
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
