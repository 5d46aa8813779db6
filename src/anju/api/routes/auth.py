"""Routes: login (OAuth2 password flow) and the current user."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from anju.accounts import hash_password, verify_password
from anju.api.deps import CtxDep, CurrentUser, SessionDep, issue_token
from anju.api.schemas import TokenRead, UserRead
from anju.store.models import User

router = APIRouter(prefix="/auth", tags=["auth"])

#: Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("anju-timing-equaliser")


@router.post("/token", response_model=TokenRead)
async def login(
    ctx: CtxDep, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenRead:
    """Exchange a username and password for a bearer token (any role, responders included)."""
    user = await session.scalar(select(User).where(User.username == form.username))
    stored_hash = user.password_hash if user is not None else _DUMMY_HASH
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop that serves alarms.
    ok = await to_thread.run_sync(verify_password, stored_hash, form.password)
    if user is None or not ok or not user.active:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "incorrect username or password, or the account is disabled (用户名或密码错误，或账号已停用)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenRead(access_token=issue_token(ctx, user), token_type="bearer")


@router.get("/me", response_model=UserRead)
async def me(user: CurrentUser) -> UserRead:
    """Who the token belongs to (any role)."""
    return UserRead.model_validate(user)
