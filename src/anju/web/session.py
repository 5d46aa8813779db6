"""Console sign-in: the API's JWT kept in an HttpOnly SameSite=Strict cookie, plus a CSRF cookie."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from anju.context import Context
from anju.domain import Role
from anju.store.models import User
from anju.web.deps import CSRF_COOKIE, TOKEN_COOKIE, decode_token, user_for_token

STAFF_ROLES = frozenset({Role.OPERATOR.value, Role.SUPERVISOR.value, Role.ADMIN.value})
#: Who may act on incidents from the console (the API enforces the same).
ACTING_ROLES = frozenset({Role.OPERATOR.value, Role.ADMIN.value})
REPORT_ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
IMPORT_ROLES = frozenset({Role.ADMIN.value})


async def user_from_request(ctx: Context, request: Request) -> User | None:
    """The signed-in user from the console cookie or a bearer header, read in a short session.

    The same checks as the API's: a revoked (logged-out), outdated or deactivated token is refused.
    """
    token = request.cookies.get(TOKEN_COOKIE)
    auth = request.headers.get("authorization", "")
    if not token and auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    if not token:
        return None
    claims = decode_token(ctx, token)
    if claims is None:
        return None
    async with ctx.db() as session:
        return await user_for_token(session, claims)


def is_secure(request: Request, ctx: Context) -> bool:
    """Mark cookies Secure when the console is reached over HTTPS (directly or per ANJU_PUBLIC_URL)."""
    public = ctx.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_login_cookies(response: Response, *, token: str, max_age: int, secure: bool) -> None:
    """The JWT (HttpOnly) and a fresh CSRF token (readable by the page's script), both SameSite=Strict."""
    response.set_cookie(
        TOKEN_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )


def clear_login_cookies(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path="/", samesite="strict", httponly=True)
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")


def same_origin(request: Request) -> bool:
    """A form post's Origin (when the browser sends one) must be this site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        # Browsers send Origin on every cross-site POST; none means same-site or not a browser.
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
