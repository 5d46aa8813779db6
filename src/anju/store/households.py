"""Household, resident, contact and device services.

Keyword-only functions that take the caller's session and never commit, so a change and its
audit record share one transaction. Used by the API, the demo seeding and the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from anju.errors import Conflict, NotFound
from anju.store.models import Contact, Device, Household, Resident, SensorEvent, UnknownDevice

#: Device and household ids: the contract's device-id charset (they appear in topics and CSV files).
ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

#: Household columns an edit may change (residents and contacts are replaced as whole lists).
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "address",
        "area",
        "timezone",
        "notes",
        "key_holder",
        "access_notes",
        "translations",
        "rule_overrides",
        "active",
        "phone_provider",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResidentData:
    """A resident as given by a caller."""

    name: str
    birth_year: int | None = None
    phone: str | None = None
    language: str = "zh-CN"
    notes: str = ""
    mobility: str = ""
    hearing: str = ""
    dialect: str = ""
    medical_notes: str = ""
    medication: str = ""
    preferred_hospital: str = ""
    #: Renderings in other languages: ``{"en": {"name": "..."}}``.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactData:
    """A contact as given by a caller; lower ``priority`` is called first."""

    name: str
    phone: str
    relation: str = "family"
    language: str = "zh-CN"
    priority: int = 0
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The provider for this contact's SMS and calls; None: the household's, or by number.
    phone_provider: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One page of a listing and the number of rows that matched."""

    items: Sequence[Any]
    total: int


def _with_people(stmt: Select[Household]) -> Select[Household]:
    return stmt.options(selectinload(Household.residents), selectinload(Household.contacts))


def _resident(data: ResidentData) -> Resident:
    return Resident(**asdict(data))


def _contact(data: ContactData) -> Contact:
    return Contact(**asdict(data))


def _reconcile_contacts(current: Sequence[Contact], wanted: Sequence[ContactData]) -> list[Contact]:
    """The new contact list, keeping the rows (and ids) of contacts whose phone number stays.

    A contact is referenced by responder logins, incidents and notifications; an edit that only
    renames or reorders must not turn them into new people. A number that disappears is a contact
    removed (references to it are cleared by the database).
    """
    by_phone = {c.phone: c for c in current}
    result = []
    for data in wanted:
        row = by_phone.pop(data.phone, None)
        if row is None:
            result.append(_contact(data))
            continue
        for name, value in asdict(data).items():
            setattr(row, name, value)
        result.append(row)
    return result


def resident_snapshot(resident: Resident) -> dict[str, Any]:
    """The resident's fields as a caller gives them (what an edit compares and the audit keeps)."""
    return {f.name: getattr(resident, f.name) for f in fields(ResidentData)}


def contact_snapshot(contact: Contact) -> dict[str, Any]:
    """The contact's fields as a caller gives them."""
    return {f.name: getattr(contact, f.name) for f in fields(ContactData)}


async def create_household(
    *,
    session: AsyncSession,
    household_id: str,
    name: str,
    now: datetime,
    address: str = "",
    area: str = "",
    timezone: str | None = None,
    notes: str = "",
    key_holder: str = "",
    access_notes: str = "",
    translations: Mapping[str, Any] | None = None,
    rule_overrides: Mapping[str, Any] | None = None,
    residents: Iterable[ResidentData] = (),
    contacts: Iterable[ContactData] = (),
    phone_provider: str | None = None,
) -> Household:
    """Add a household with its residents and contacts; a taken id is a conflict."""
    if not ID_PATTERN.fullmatch(household_id):
        raise ValueError(f"household id {household_id!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
    if await session.scalar(select(Household.id).where(Household.id == household_id)) is not None:
        raise Conflict(f"household {household_id!r} already exists")
    household = Household(
        id=household_id,
        name=name,
        address=address,
        area=area,
        timezone=timezone,
        notes=notes,
        key_holder=key_holder,
        access_notes=access_notes,
        translations=dict(translations or {}),
        rule_overrides=dict(rule_overrides or {}),
        monitoring_degraded=False,
        active=True,
        phone_provider=phone_provider,
        created_at=now,
        updated_at=now,
        residents=[_resident(r) for r in residents],
        contacts=[_contact(c) for c in contacts],
    )
    session.add(household)
    try:
        await session.flush()
    except IntegrityError as err:
        # Lost a race with another request creating the same id between our check and insert.
        raise Conflict(f"household {household_id!r} already exists") from err
    return household


async def get_household(*, session: AsyncSession, household_id: str) -> Household:
    """The household with its residents and contacts; ``NotFound`` if there is none."""
    household = await session.scalar(_with_people(select(Household).where(Household.id == household_id)))
    if household is None:
        raise NotFound(f"household {household_id!r} does not exist")
    return household


async def list_households(
    *,
    session: AsyncSession,
    search: str | None = None,
    area: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Households ordered by id; ``search`` matches id, name, address or area, ``area`` is exact."""
    stmt = select(Household)
    if search:
        # Escape LIKE wildcards so a search for "50%" means the text, not a pattern.
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Household.id).like(pattern, escape="\\"),
                func.lower(Household.name).like(pattern, escape="\\"),
                func.lower(Household.address).like(pattern, escape="\\"),
                func.lower(Household.area).like(pattern, escape="\\"),
            )
        )
    if area:
        stmt = stmt.where(Household.area == area)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(_with_people(stmt.order_by(Household.id).limit(limit).offset(offset)))
    return Page(items=list(rows), total=total)


async def update_household(
    *,
    session: AsyncSession,
    household: Household,
    now: datetime,
    changes: Mapping[str, Any],
    residents: Sequence[ResidentData] | None = None,
    contacts: Sequence[ContactData] | None = None,
) -> dict[str, dict[str, Any]]:
    """Apply ``changes`` (and replace residents/contacts when given); return ``{field: {from, to}}``."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"household fields cannot be edited: {', '.join(sorted(unknown))}")
    diff: dict[str, dict[str, Any]] = {}
    for name, value in changes.items():
        old = getattr(household, name)
        if name in ("rule_overrides", "translations"):
            value = dict(value or {})
        if old != value:
            diff[name] = {"from": old, "to": value}
            setattr(household, name, value)
    if residents is not None:
        old_people = [resident_snapshot(r) for r in household.residents]
        new_people = [asdict(r) for r in residents]
        if old_people != new_people:
            diff["residents"] = {"from": old_people, "to": new_people}
            household.residents = [_resident(r) for r in residents]
    if contacts is not None:
        old_contacts = [contact_snapshot(c) for c in household.contacts]
        new_contacts = [asdict(c) for c in contacts]
        if old_contacts != new_contacts:
            diff["contacts"] = {"from": old_contacts, "to": new_contacts}
            household.contacts = _reconcile_contacts(household.contacts, contacts)
    if diff:
        household.updated_at = now
        await session.flush()
        # Reload the ordered collections so the caller sees priorities in calling order.
        await session.refresh(household, ["residents", "contacts"])
    return diff


async def register_device(
    *,
    session: AsyncSession,
    device_id: str,
    household_id: str,
    type: str,
    protocol: str,
    profile: str,
    now: datetime,
    location: str = "",
    external_name: str | None = None,
    heartbeat_s: int | None = None,
) -> Device:
    """Bind a device to a household and take it off the unknown-devices list.

    ``NotFound`` when the household does not exist, ``Conflict`` when the id or the
    Zigbee2MQTT name is taken.
    """
    if not ID_PATTERN.fullmatch(device_id):
        raise ValueError(f"device id {device_id!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
    if await session.scalar(select(Household.id).where(Household.id == household_id)) is None:
        raise NotFound(f"household {household_id!r} does not exist")
    if await session.scalar(select(Device.id).where(Device.id == device_id)) is not None:
        raise Conflict(f"device {device_id!r} is already registered")
    if external_name is not None:
        taken = await session.scalar(select(Device.id).where(Device.external_name == external_name))
        if taken is not None:
            raise Conflict(f"Zigbee2MQTT name {external_name!r} is already used by device {taken!r}")
    device = Device(
        id=device_id,
        household_id=household_id,
        type=type,
        protocol=protocol,
        profile=profile,
        location=location,
        external_name=external_name,
        heartbeat_s=heartbeat_s,
        online=True,
        created_at=now,
    )
    session.add(device)
    # The ingestor lists kit devices under their id and Zigbee2MQTT devices under their friendly name.
    heard_as = external_name if protocol == "zigbee2mqtt" else device_id
    await session.execute(
        delete(UnknownDevice).where(UnknownDevice.protocol == protocol, UnknownDevice.key == heard_as)
    )
    try:
        await session.flush()
    except IntegrityError as err:
        # A concurrent request registered the same id or name, or removed the household.
        raise Conflict(f"device {device_id!r} conflicts with a concurrent change; reload and retry") from err
    return device


async def get_device(*, session: AsyncSession, device_id: str) -> Device:
    device = await session.get(Device, device_id)
    if device is None:
        raise NotFound(f"device {device_id!r} does not exist")
    return device


async def list_devices(
    *,
    session: AsyncSession,
    household_id: str | None = None,
    type: str | None = None,
    online: bool | None = None,
    battery_below: int | None = None,
    low_battery: Mapping[str, int] | None = None,
    low_battery_default: int = 20,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """Devices ordered by id, filtered.

    ``battery_below`` keeps devices reporting less than that percent; ``low_battery`` (profile name
    -> threshold, ``low_battery_default`` for other profiles) keeps those under their profile's floor.
    """
    stmt = select(Device)
    if household_id is not None:
        stmt = stmt.where(Device.household_id == household_id)
    if type is not None:
        stmt = stmt.where(Device.type == type)
    if online is not None:
        stmt = stmt.where(Device.online.is_(online))
    if battery_below is not None:
        stmt = stmt.where(Device.battery.is_not(None), Device.battery < battery_below)
    if low_battery is not None:
        per_profile = [
            (Device.profile == name) & (Device.battery < floor) for name, floor in low_battery.items()
        ]
        other = Device.profile.not_in(list(low_battery)) & (Device.battery < low_battery_default)
        stmt = stmt.where(Device.battery.is_not(None), or_(*per_profile, other))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(Device.id).limit(limit).offset(offset))
    return Page(items=list(rows), total=total)


EventOrder = Literal["asc", "desc"]


async def list_events(
    *,
    session: AsyncSession,
    household_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    order: EventOrder = "desc",
    limit: int = 200,
    after: tuple[datetime, int] | None = None,
) -> list[SensorEvent]:
    """Stored events of a household on event time, ``since <= t < until``.

    Ordered by (event_time, id) ascending or descending; ``after`` is the last row of the
    previous page, so paging is stable while new events arrive.
    """
    stmt = select(SensorEvent).where(SensorEvent.household_id == household_id)
    if since is not None:
        stmt = stmt.where(SensorEvent.event_time >= since)
    if until is not None:
        stmt = stmt.where(SensorEvent.event_time < until)
    if after is not None:
        at, last_id = after
        if order == "asc":
            stmt = stmt.where(
                or_(SensorEvent.event_time > at, (SensorEvent.event_time == at) & (SensorEvent.id > last_id))
            )
        else:
            stmt = stmt.where(
                or_(SensorEvent.event_time < at, (SensorEvent.event_time == at) & (SensorEvent.id < last_id))
            )
    if order == "asc":
        stmt = stmt.order_by(SensorEvent.event_time.asc(), SensorEvent.id.asc())
    else:
        stmt = stmt.order_by(SensorEvent.event_time.desc(), SensorEvent.id.desc())
    return list(await session.scalars(stmt.limit(limit)))
