"""Routes: console users (admins only). No hard delete: a user leaves by being deactivated.

Every create and edit writes one audit record in the same transaction, with the admin as actor and
the changed fields; a password appears there only as "reset". A deactivated user's token stops
working at once (``deps.get_current_user`` checks ``active`` on every request).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import Field, StringConstraints, model_validator
from sqlalchemy import func, select

from anju import accounts
from anju.api.responses import SIGNED_IN, problems
from anju.api.schemas import Language, PageOf, Phone, Schema
from anju.domain import ACTIVE_STATES, Role
from anju.errors import NotFound
from anju.store.models import Incident, User
from anju.web.deps import Admin, BodyId, CtxDep, IdPath, Offset, SessionDep

router = APIRouter(prefix="/users", tags=["users"], responses=SIGNED_IN)

Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.@\-]{1,64}$")]
Password = Annotated[str, StringConstraints(min_length=accounts.MIN_PASSWORD_LENGTH, max_length=256)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]


class UserAdminRead(Schema):
    id: int
    username: str
    role: Role
    display_name: str
    phone: str | None
    language: str
    contact_id: int | None
    active: bool
    created_at: datetime


class UserEditRead(UserAdminRead):
    #: Incidents this user owns that are still active: after a deactivation or a role change they
    #: need a hand-over (``POST /incidents/{id}/owner``), or nobody may move them on but an admin.
    owned_active_incidents: list[int]


class UserCreate(Schema):
    username: Username
    password: Password
    role: Role
    display_name: DisplayName = ""
    #: International format (E.164 after removing spaces and dashes), e.g. +8613800138000.
    phone: Phone | None = None
    language: Language = "zh-CN"
    #: Required for responders: the household contact they are (grid worker, neighbour, family).
    contact_id: BodyId | None = None

    @model_validator(mode="after")
    def _responder_has_contact(self) -> UserCreate:
        accounts.check_responder_contact(self.role, self.contact_id)
        return self


class UserUpdate(Schema):
    """Only the fields sent change; ``phone`` and ``contact_id`` may be null to clear them."""

    role: Role | None = None
    display_name: DisplayName | None = None
    phone: Phone | None = None
    language: Language | None = None
    active: bool | None = None
    contact_id: BodyId | None = None
    #: A new password (reset by the admin); the audit trail says "reset", nothing more.
    password: Password | None = Field(default=None)

    @model_validator(mode="after")
    def _no_null_for_required(self) -> UserUpdate:
        nulls = sorted(
            name
            for name in self.model_fields_set
            if name not in ("phone", "contact_id") and getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(nulls)}")
        return self


def _unprocessable(err: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


@router.get("", response_model=PageOf[UserAdminRead])
async def list_users(
    session: SessionDep,
    _admin: Admin,
    role: Role | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> PageOf[UserAdminRead]:
    """Users ordered by username, filtered by role and active (admins)."""
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(User.username).limit(limit).offset(offset))
    return PageOf[UserAdminRead](
        items=[UserAdminRead.model_validate(u) for u in rows], total=total, limit=limit, offset=offset
    )


@router.post("", response_model=UserAdminRead, status_code=status.HTTP_201_CREATED, responses=problems(409))
async def create_user(ctx: CtxDep, session: SessionDep, admin: Admin, body: UserCreate) -> UserAdminRead:
    """Add a user (admins); a taken username is 409, a missing contact 422."""
    try:
        user = await accounts.create_user(
            session,
            username=body.username,
            password=body.password,
            role=body.role,
            clock=ctx.clock,
            actor=admin.username,
            display_name=body.display_name,
            phone=body.phone,
            language=body.language,
            contact_id=body.contact_id,
        )
    except ValueError as err:
        raise _unprocessable(err) from err
    return UserAdminRead.model_validate(user)


@router.get("/{user_id}", response_model=UserAdminRead, responses=problems(404))
async def get_user(session: SessionDep, _admin: Admin, user_id: IdPath) -> UserAdminRead:
    """One user (admins)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return UserAdminRead.model_validate(user)


@router.patch("/{user_id}", response_model=UserEditRead, responses=problems(404, 409))
async def update_user(
    ctx: CtxDep, session: SessionDep, admin: Admin, user_id: IdPath, body: UserUpdate
) -> UserEditRead:
    """Change the fields sent (admins). Leaving no active admin is 409; ``active: false`` deactivates."""
    sent: dict[str, Any] = body.model_dump(exclude_unset=True)
    password = sent.pop("password", None)
    if not sent and password is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "nothing to change: send at least one field"
        )
    if "role" in sent:
        sent["role"] = Role(sent["role"]).value
    try:
        user, _diff = await accounts.update_user(
            session, user_id=user_id, changes=sent, clock=ctx.clock, actor=admin.username, password=password
        )
    except ValueError as err:
        raise _unprocessable(err) from err
    owned = await session.scalars(
        select(Incident.id)
        .where(Incident.owner_id == user.id, Incident.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(Incident.id)
    )
    return UserEditRead.model_validate(
        {**UserAdminRead.model_validate(user).model_dump(), "owned_active_incidents": list(owned)}
    )
