"""Signing in and out of the console (the form, its throttle and origin check, the language cookie)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from anju.console.i18n import LANG_COOKIE, normalize
from anju.console.page import Page
from anju.web.deps import TOKEN_COOKIE, decode_token, get_context, user_for_token
from anju.web.session import clear_login_cookies, is_secure, same_origin, set_login_cookies
from anju.web.signin import LoginOutcome, client_address, revoke, sign_in

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    # Only same-site paths: "//evil.example" or "https://…" would make the login an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login")
async def login_form(request: Request) -> Response:
    ctx = get_context(request)
    page = Page(request, ctx, None)
    expired = request.query_params.get("expired")
    return page.render(
        "login.html",
        title_key="title.login",
        next_url=_safe_next(request.query_params.get("next")),
        error_key="login.expired" if expired else None,
        username="",
    )


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = get_context(request)
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    page = Page(request, ctx, None)
    if not same_origin(request):
        return page.render(
            "login.html",
            title_key="title.login",
            status_code=403,
            next_url=next_url,
            error_key="login.error_origin",
            username=username,
        )
    attempt = await sign_in(ctx, request, username=username, password=password, via="console")
    user, token = attempt.user, attempt.token
    if attempt.outcome is LoginOutcome.THROTTLED:
        page_response = page.render(
            "login.html",
            title_key="title.login",
            status_code=429,
            next_url=next_url,
            error_key="login.error_throttled",
            username=username,
        )
        page_response.headers["Retry-After"] = str(attempt.retry_after_s)
        return page_response
    if user is None or token is None:
        return page.render(
            "login.html",
            title_key="title.login",
            status_code=401,
            next_url=next_url,
            error_key="login.error_invalid",
            username=username,
        )
    response = RedirectResponse(next_url, status_code=303)
    set_login_cookies(response, token=token, max_age=ctx.settings.token_ttl_s, secure=is_secure(request, ctx))
    if user.language and normalize(user.language) and not request.cookies.get(LANG_COOKIE):
        response.set_cookie(
            LANG_COOKIE, normalize(user.language) or "zh-CN", max_age=365 * 24 * 3600, samesite="lax"
        )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out without script: the cookie's token is revoked as by ``POST /api/v1/auth/logout``."""
    ctx = get_context(request)
    token = request.cookies.get(TOKEN_COOKIE)
    claims = decode_token(ctx, token) if token and same_origin(request) else None
    if claims is not None:
        async with ctx.db() as session:
            user = await user_for_token(session, claims)
        if user is not None:
            await revoke(ctx, claims, actor=user.username, address=client_address(request), via="console")
    response = RedirectResponse("/login", status_code=303)
    clear_login_cookies(response)
    return response
