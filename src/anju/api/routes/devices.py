"""Routes: devices bound to households.

Roles: every staff role (operator, supervisor, admin) reads; operators and admins register
devices (installers act as one of these). Responders get 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from anju import audit
from anju.api.profiles import battery_thresholds, resolve_profile
from anju.api.responses import SIGNED_IN, problems
from anju.api.schemas import DeviceCreate, DeviceRead, PageOf
from anju.domain import DeviceKind
from anju.errors import NotFound
from anju.store import households as service
from anju.web.deps import CtxDep, Offset, Operator, SessionDep, Staff, TextIdPath

router = APIRouter(prefix="/devices", tags=["devices"], responses=SIGNED_IN)


@router.get("", response_model=PageOf[DeviceRead])
async def list_devices(
    ctx: CtxDep,
    session: SessionDep,
    _user: Staff,
    household_id: Annotated[str | None, Query(max_length=64)] = None,
    type: DeviceKind | None = None,
    online: bool | None = None,
    low_battery: Annotated[
        bool, Query(description="only devices under their profile's low-battery threshold")
    ] = False,
    battery_below: Annotated[int | None, Query(ge=1, le=101, description="only devices under this %")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> PageOf[DeviceRead]:
    """Devices ordered by id, filtered (staff)."""
    page = await service.list_devices(
        session=session,
        household_id=household_id,
        type=type.value if type else None,
        online=online,
        battery_below=battery_below,
        low_battery=battery_thresholds(ctx.settings) if low_battery else None,
        limit=limit,
        offset=offset,
    )
    return PageOf[DeviceRead](
        items=[DeviceRead.model_validate(d) for d in page.items], total=page.total, limit=limit, offset=offset
    )


@router.post("", response_model=DeviceRead, status_code=status.HTTP_201_CREATED, responses=problems(409))
async def register_device(ctx: CtxDep, session: SessionDep, user: Operator, body: DeviceCreate) -> DeviceRead:
    """Bind a device to a household; it leaves the unknown-devices list (operator, admin)."""
    profile = resolve_profile(ctx.settings, protocol=body.protocol, kind=body.type, name=body.profile)
    now = ctx.clock.now()
    try:
        device = await service.register_device(
            session=session,
            device_id=body.id,
            household_id=body.household_id,
            type=body.type.value,
            protocol=body.protocol.value,
            profile=profile.name,
            now=now,
            location=body.location,
            external_name=body.external_name,
            heartbeat_s=body.heartbeat_s if body.heartbeat_s is not None else profile.heartbeat_s,
        )
    except NotFound as err:
        # The household is named in the body, not the path: the request is invalid, not missing.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"household_id: {err}") from err
    await audit.record(
        session,
        at=now,
        actor=user.username,
        action="device.create",
        entity="device",
        entity_id=device.id,
        content=body.model_dump(mode="json") | {"profile": device.profile, "heartbeat_s": device.heartbeat_s},
    )
    return DeviceRead.model_validate(device)


@router.get("/{device_id}", response_model=DeviceRead, responses=problems(404))
async def get_device(session: SessionDep, _user: Staff, device_id: TextIdPath) -> DeviceRead:
    """One device with its last-seen time, battery and signal (staff)."""
    return DeviceRead.model_validate(await service.get_device(session=session, device_id=device_id))
