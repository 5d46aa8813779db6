"""Routes: login (OAuth2 password flow, throttled and audited), logout and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from anju.api.responses import problems
from anju.api.schemas import TokenRead, UserRead
from anju.web.deps import ClaimsDep, CtxDep, CurrentUser
from anju.web.session import clear_login_cookies
from anju.web.signin import LoginOutcome, client_address, revoke, sign_in

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenRead, responses=problems(400, 401, 422, 429))
async def login(
    ctx: CtxDep, request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenRead:
    """Exchange a username and password for a bearer token (any role); repeated failures answer 429."""
    attempt = await sign_in(ctx, request, username=form.username, password=form.password, via="api")
    if attempt.outcome is LoginOutcome.THROTTLED:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed sign-ins: try again in {attempt.retry_after_s} s"
            f" (登录失败次数过多，请 {attempt.retry_after_s} 秒后再试)",
            headers={"Retry-After": str(attempt.retry_after_s)},
        )
    if attempt.token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "incorrect username or password, or the account is disabled (用户名或密码错误，或账号已停用)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenRead(access_token=attempt.token, token_type="bearer")


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=problems(401, 403)
)
async def logout(ctx: CtxDep, request: Request, claims: ClaimsDep, user: CurrentUser) -> Response:
    """Revoke the token that calls this (bearer header or console cookie); it answers 401 from now on."""
    via = "api" if request.headers.get("authorization") else "console"
    await revoke(ctx, claims, actor=user.username, address=client_address(request), via=via)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_login_cookies(response)  # the console's cookies go with its token
    return response


@router.get("/me", response_model=UserRead, responses=problems(401))
async def me(user: CurrentUser) -> UserRead:
    """Who the token belongs to (any role)."""
    return UserRead.model_validate(user)
