"""Console users: password hashing (argon2) and creation."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import Clock
from anju.dispatch import audit
from anju.domain import Role
from anju.errors import Conflict
from anju.store.models import User

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    clock: Clock,
    actor: str = "cli",
    display_name: str = "",
    phone: str | None = None,
    contact_id: int | None = None,
) -> User:
    """Create a user in the caller's transaction; a taken name is a conflict."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    now = clock.now()
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        display_name=display_name or username,
        phone=phone,
        contact_id=contact_id,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        at=now,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=user.id,
        content={"username": username, "role": role.value},
    )
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not verify_password(user.password_hash, password):
        return None
    return user
