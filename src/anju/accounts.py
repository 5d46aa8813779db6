"""Console users: password hashing (argon2), creation and edits, each audited in the same transaction."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from zxcvbn import zxcvbn

from anju import audit
from anju.clock import Clock
from anju.domain import Role
from anju.errors import Conflict, NotFound
from anju.store.models import Contact, User

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
#: zxcvbn's 0–4 guessability score a password must reach (3: "safely unguessable", ~10^8 guesses).
MIN_PASSWORD_SCORE = 3
#: zxcvbn looks at this many characters (its own limit); a longer password is judged by its start.
_SCORED_PREFIX = 72
#: zxcvbn keeps the user inputs of a call in a module-level dictionary: one call at a time.
_ZXCVBN_LOCK = threading.Lock()
#: What an edit may change; the username is the audit trail's actor name and never changes.
EDITABLE_FIELDS = frozenset({"role", "display_name", "phone", "language", "active", "contact_id"})
#: How a password change appears in the audit trail: never the password, never its hash.
PASSWORD_RESET = "reset"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


async def _hash_off_loop(password: str) -> str:
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop that serves alarms.
    return await asyncio.to_thread(hash_password, password)


def check_password(password: str, *, username: str = "") -> None:
    """Refuse a password shorter than 10 characters or easy to guess (zxcvbn); ValueError says why."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters"
            f" (密码至少 {MIN_PASSWORD_LENGTH} 位)"
        )
    with _ZXCVBN_LOCK:
        result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[username, "anju"] if username else ["anju"])
    common = any(
        m.get("pattern") == "dictionary"
        and m.get("dictionary_name") == "passwords"
        and m["token"] == password
        for m in result["sequence"]
    )
    if common or result["score"] < MIN_PASSWORD_SCORE:
        warning = result["feedback"].get("warning") or "it is too easy to guess"
        raise ValueError(
            f"password refused: {warning.rstrip('.')}; use a longer phrase of unrelated words"
            " (密码过于常见或容易被猜到，请使用更长、不相关的词组)"
        )


async def _check_password(password: str, username: str) -> None:
    # zxcvbn takes up to ~80 ms of CPU on a long password: off the event loop, like argon2.
    await asyncio.to_thread(check_password, password, username=username)


def check_responder_contact(role: Role | str, contact_id: int | None) -> None:
    """A responder must be linked to a household contact (the API and the CLI share this rule)."""
    if Role(role) is Role.RESPONDER and contact_id is None:
        raise ValueError(
            "a responder needs contact_id: it is how they see the incidents dispatched to them"
            " (处置人员须关联一位联系人)"
        )


async def _check_contact(session: AsyncSession, contact_id: int | None) -> None:
    if contact_id is not None and await session.get(Contact, contact_id) is None:
        raise ValueError(f"contact {contact_id} does not exist (联系人不存在)")


def snapshot(user: User) -> dict[str, Any]:
    """The user as the audit trail records it (no password hash)."""
    return {
        "username": user.username,
        "role": user.role,
        "display_name": user.display_name,
        "phone": user.phone,
        "language": user.language,
        "contact_id": user.contact_id,
        "active": user.active,
    }


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
    language: str = "zh-CN",
    contact_id: int | None = None,
) -> User:
    """Create a user in the caller's transaction; a taken name is a Conflict, a bad value a ValueError."""
    await _check_password(password, username)
    password_hash = await _hash_off_loop(password)  # before the lock: hold it briefly
    # The chain lock first (as every audited write): concurrent creations of one name queue here, so
    # the check below cannot be overtaken by the other insert.
    await audit.lock_chain(session)
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists (用户名已存在)")
    await _check_contact(session, contact_id)
    now = clock.now()
    user = User(
        username=username,
        password_hash=password_hash,
        role=role.value,
        display_name=display_name or username,
        phone=phone,
        language=language,
        contact_id=contact_id,
        active=True,
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
        content=snapshot(user),
    )
    return user


def _is_active_admin(role: str, active: bool) -> bool:
    return role == Role.ADMIN.value and active


async def update_user(
    session: AsyncSession,
    *,
    user_id: int,
    changes: Mapping[str, Any],
    clock: Clock,
    actor: str,
    password: str | None = None,
) -> tuple[User, dict[str, Any]]:
    """Apply ``changes`` (and a password reset) in the caller's transaction; return the user and the diff.

    The diff is ``{field: {"from", "to"}}`` plus ``"password": "reset"``; it is also the audit
    record's content, written only when something changed. Raises ``NotFound``; ``ValueError`` for
    a bad value (unknown field or role, short password, missing contact, a responder without a
    contact); ``Conflict`` when the change would leave no active admin.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"user fields cannot be edited: {', '.join(sorted(unknown))}")
    new_hash: str | None = None
    if password is not None:
        # The name is read before the lock for the strength check only (usernames never change).
        current = await session.get(User, user_id)
        await _check_password(password, current.username if current is not None else "")
        new_hash = await _hash_off_loop(password)  # before the lock: hold it briefly
    wanted = dict(changes)
    if "role" in wanted:
        wanted["role"] = Role(wanted["role"]).value
    # Chain lock before reading: two admins demoting each other at once queue here, and the second
    # one counts the admins the first one left (one line of writers, the same lock order everywhere).
    await audit.lock_chain(session)
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    diff: dict[str, Any] = {
        name: {"from": getattr(user, name), "to": value}
        for name, value in wanted.items()
        if getattr(user, name) != value
    }
    if "contact_id" in diff:
        await _check_contact(session, wanted["contact_id"])
    role = wanted.get("role", user.role)
    check_responder_contact(role, wanted.get("contact_id", user.contact_id))
    active = wanted.get("active", user.active)
    if _is_active_admin(user.role, user.active) and not _is_active_admin(role, active):
        others = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
        )
        if not others:
            raise Conflict(
                f"{user.username!r} is the last active admin: make another admin first"
                " (最后一位管理员不能停用或降级)"
            )
    for name in diff:
        setattr(user, name, wanted[name])
    if new_hash is not None:
        user.password_hash = new_hash
        diff["password"] = PASSWORD_RESET
    if new_hash is not None or "role" in diff:
        # Tokens carry the version they were issued under: a reset or a new role signs everyone out.
        user.token_version += 1
    if diff:
        await session.flush()
        await audit.record(
            session,
            at=clock.now(),
            actor=actor,
            action="user.update",
            entity="user",
            entity_id=user.id,
            content={"username": user.username, "changes": diff},
        )
    return user, diff
