"""Routes: households with their residents, contacts and rule overrides.

Roles: every staff role (operator, supervisor, admin) reads. Operators and admins create and
edit a household's details, residents and contacts (installers act as one of these). Rule
overrides change what raises an alarm in one home, so only supervisors and admins set them; a
request that touches both needs a role allowed both (an admin). Responders get 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from anju import audit
from anju.api.responses import SIGNED_IN, problems
from anju.api.schemas import (
    ContactIn,
    HouseholdCreate,
    HouseholdRead,
    HouseholdUpdate,
    PageOf,
    ResidentIn,
)
from anju.domain import Role
from anju.store import households as service
from anju.store.models import Household, User
from anju.web.deps import CtxDep, Offset, SessionDep, Staff, TextIdPath

router = APIRouter(prefix="/households", tags=["households"], responses=SIGNED_IN)

#: Who may change what (see the module docstring).
DETAIL_EDITORS = frozenset({Role.OPERATOR.value, Role.ADMIN.value})
RULE_EDITORS = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})


def _require(user: User, allowed: frozenset[str], what: str) -> None:
    if user.role not in allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"role {user.role!r} may not {what}; allowed: {', '.join(sorted(allowed))}",
        )


def _checked_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """The engine's verdict on a household's overrides; its reason goes back as a 422."""
    if not overrides:
        return {}
    # Imported here: the API should start even while the rule pack code is being changed.
    from anju.engine.pack import validate_overrides

    try:
        return validate_overrides(overrides)
    except ValueError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"rule_overrides: {err}") from err


def _residents(items: list[ResidentIn]) -> list[service.ResidentData]:
    return [service.ResidentData(**r.model_dump()) for r in items]


def _contacts(items: list[ContactIn]) -> list[service.ContactData]:
    return [service.ContactData(**c.model_dump()) for c in items]


def _snapshot(household: Household) -> dict[str, Any]:
    return {
        "name": household.name,
        "address": household.address,
        "area": household.area,
        "timezone": household.timezone,
        "notes": household.notes,
        "key_holder": household.key_holder,
        "access_notes": household.access_notes,
        "translations": household.translations,
        "rule_overrides": household.rule_overrides,
        "phone_provider": household.phone_provider,
        "residents": [service.resident_snapshot(r) for r in household.residents],
        "contacts": [service.contact_snapshot(c) for c in household.contacts],
    }


@router.get("", response_model=PageOf[HouseholdRead])
async def list_households(
    session: SessionDep,
    _user: Staff,
    q: Annotated[str | None, Query(max_length=128, description="text in id, name, address or area")] = None,
    area: Annotated[str | None, Query(max_length=128, description="exact area")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> PageOf[HouseholdRead]:
    """Households ordered by id (staff)."""
    page = await service.list_households(session=session, search=q, area=area, limit=limit, offset=offset)
    return PageOf[HouseholdRead](
        items=[HouseholdRead.model_validate(h) for h in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.post("", response_model=HouseholdRead, status_code=status.HTTP_201_CREATED, responses=problems(409))
async def create_household(
    ctx: CtxDep, session: SessionDep, user: Staff, body: HouseholdCreate
) -> HouseholdRead:
    """Add a household (operator, admin; rule_overrides also need supervisor or admin)."""
    _require(user, DETAIL_EDITORS, "create households")
    if body.rule_overrides:
        _require(user, RULE_EDITORS, "set rule_overrides")
    overrides = _checked_overrides(body.rule_overrides)
    now = ctx.clock.now()
    try:
        household = await service.create_household(
            session=session,
            household_id=body.id,
            name=body.name,
            now=now,
            address=body.address,
            area=body.area,
            timezone=body.timezone,
            notes=body.notes,
            key_holder=body.key_holder,
            access_notes=body.access_notes,
            translations=body.translations,
            rule_overrides=overrides,
            residents=_residents(body.residents),
            contacts=_contacts(body.contacts),
            phone_provider=body.phone_provider,
        )
    except ValueError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    await session.refresh(household, ["residents", "contacts"])
    await audit.record(
        session,
        at=now,
        actor=user.username,
        action="household.create",
        entity="household",
        entity_id=household.id,
        content=_snapshot(household),
    )
    return HouseholdRead.model_validate(household)


@router.get("/{household_id}", response_model=HouseholdRead, responses=problems(404))
async def get_household(session: SessionDep, _user: Staff, household_id: TextIdPath) -> HouseholdRead:
    """One household with residents and contacts (staff)."""
    return HouseholdRead.model_validate(
        await service.get_household(session=session, household_id=household_id)
    )


@router.patch("/{household_id}", response_model=HouseholdRead, responses=problems(404, 409))
async def update_household(
    ctx: CtxDep, session: SessionDep, user: Staff, household_id: TextIdPath, body: HouseholdUpdate
) -> HouseholdRead:
    """Change the fields sent (details: operator, admin; rule_overrides: supervisor, admin)."""
    sent = body.model_dump(exclude_unset=True)
    if not sent:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "nothing to change: send at least one field"
        )
    if set(sent) - {"rule_overrides"}:
        _require(user, DETAIL_EDITORS, "edit household details")
    if "rule_overrides" in sent:
        _require(user, RULE_EDITORS, "change rule_overrides")
        sent["rule_overrides"] = _checked_overrides(sent["rule_overrides"])
    household = await service.get_household(session=session, household_id=household_id)
    now = ctx.clock.now()
    residents = _residents(body.residents) if body.residents is not None else None
    contacts = _contacts(body.contacts) if body.contacts is not None else None
    changes = {k: v for k, v in sent.items() if k not in ("residents", "contacts")}
    diff = await service.update_household(
        session=session, household=household, now=now, changes=changes, residents=residents, contacts=contacts
    )
    rule_change = diff.pop("rule_overrides", None)
    if diff:
        await audit.record(
            session,
            at=now,
            actor=user.username,
            action="household.update",
            entity="household",
            entity_id=household.id,
            content=diff,
        )
    if rule_change is not None:
        await audit.record(
            session,
            at=now,
            actor=user.username,
            action="household.rule_overrides",
            entity="household",
            entity_id=household.id,
            content=rule_change,
        )
    return HouseholdRead.model_validate(household)
