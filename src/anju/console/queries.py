"""What the console's pages and live queue read from the database (through the ORM models)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from anju.clock import isoformat
from anju.dispatch.service import HANDLER_ROLES
from anju.domain import ACTIVE_STATES, EventName, IncidentState, Severity
from anju.store.models import (
    Alert,
    DeadLetter,
    Device,
    Household,
    Incident,
    IncidentEvent,
    Notification,
    SensorEvent,
    UnknownDevice,
    User,
)

#: Resolved incidents still need a follow-up or a closing decision: the queue lists them apart.
CLOSING_STATES = frozenset({IncidentState.RESOLVED, IncidentState.FOLLOW_UP})
QUEUE_STATES = ACTIVE_STATES | CLOSING_STATES
#: The queue's states in loop order (its state filter).
QUEUE_ORDER = tuple(s for s in IncidentState if s in QUEUE_STATES)
LOW_BATTERY_PERCENT = 20
#: Hours of sensor events shown before an incident (the page and the responder's phone page).
INCIDENT_EVENT_HOURS = 6
_LIVENESS_EVENTS = (EventName.HEARTBEAT.value, EventName.ONLINE.value, EventName.OFFLINE.value)


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def queue_row(incident: Incident, household: Household | None, owner: User | None) -> dict[str, Any]:
    """One incident as the live queue shows it (JSON-ready)."""
    return {
        "id": incident.id,
        "household_id": incident.household_id,
        "household_name": household.name if household else incident.household_id,
        "area": household.area if household else "",
        "address": household.address if household else "",
        "rule": incident.rule,
        "severity": incident.severity,
        "severity_rank": Severity(incident.severity).rank,
        "state": incident.state,
        "opened_at": _iso(incident.opened_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "next_escalation_at": _iso(incident.next_escalation_at),
        "escalation_step": incident.escalation_step,
        "owner_id": incident.owner_id,
        "owner_name": (owner.display_name or owner.username) if owner else None,
        "responder_name": incident.responder_name,
        "outcome": incident.outcome,
        "follow_up_due_at": _iso(incident.follow_up_due_at),
        "version": incident.version,
    }


def _queue_select() -> Any:
    return (
        select(Incident, Household, User)
        .outerjoin(Household, Household.id == Incident.household_id)
        .outerjoin(User, User.id == Incident.owner_id)
    )


def sort_key(row: dict[str, Any]) -> tuple[int, str, int]:
    """Most severe first, then oldest first: the order an operator should work in."""
    return (-int(row["severity_rank"]), str(row["opened_at"]), int(row["id"]))


async def queue_rows(session: AsyncSession) -> list[dict[str, Any]]:
    """Every incident the queue shows (active, and awaiting follow-up or closing), in working order."""
    result = await session.execute(_queue_select().where(Incident.state.in_([s.value for s in QUEUE_STATES])))
    rows = [queue_row(i, h, u) for i, h, u in result.all()]
    return sorted(rows, key=sort_key)


async def incident_queue_row(session: AsyncSession, incident_id: int) -> dict[str, Any] | None:
    result = await session.execute(_queue_select().where(Incident.id == incident_id))
    found = result.first()
    return queue_row(*found) if found else None


@dataclass
class IncidentView:
    incident: Incident
    household: Household
    owner: User | None
    alerts: Sequence[Alert]
    timeline: Sequence[IncidentEvent]
    notifications: Sequence[Notification]
    sensor_events: Sequence[SensorEvent]
    locations: dict[str, str]


async def household_with_people(session: AsyncSession, household_id: str) -> Household | None:
    return await session.scalar(
        select(Household)
        .where(Household.id == household_id)
        .options(
            selectinload(Household.residents),
            selectinload(Household.contacts),
            selectinload(Household.devices),
        )
    )


async def incident_view(
    session: AsyncSession, incident_id: int, *, now: datetime, hours: int
) -> IncidentView | None:
    """Everything the incident page shows, including the household's last ``hours`` of sensor events."""
    incident = await session.get(Incident, incident_id)
    if incident is None:
        return None
    household = await household_with_people(session, incident.household_id)
    if household is None:
        return None
    owner = await session.get(User, incident.owner_id) if incident.owner_id else None
    alerts = (
        await session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id))
    ).all()
    timeline = (
        await session.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)
        )
    ).all()
    notifications = (
        await session.scalars(
            select(Notification).where(Notification.incident_id == incident_id).order_by(Notification.id)
        )
    ).all()
    # The window ends now for a live incident, at closing for a closed one.
    until = incident.closed_at or now
    since = min(incident.opened_at, until) - timedelta(hours=hours)
    events = (
        await session.scalars(
            select(SensorEvent)
            .where(
                SensorEvent.household_id == incident.household_id,
                SensorEvent.event_time >= since,
                SensorEvent.event_time <= until,
                SensorEvent.event.not_in(_LIVENESS_EVENTS),
            )
            .order_by(SensorEvent.event_time.desc())
            .limit(300)
        )
    ).all()
    locations = {d.id: d.location for d in household.devices}
    return IncidentView(incident, household, owner, alerts, timeline, notifications, events, locations)


async def handover_candidates(session: AsyncSession, *, exclude: int | None) -> Sequence[User]:
    """Who may take an incident over: active operators and admins (the service's handler roles)."""
    stmt = select(User).where(User.active.is_(True), User.role.in_(sorted(HANDLER_ROLES)))
    if exclude is not None:
        stmt = stmt.where(User.id != exclude)
    return (await session.scalars(stmt.order_by(User.role.desc(), User.display_name, User.username))).all()


async def household_events(
    session: AsyncSession, household_id: str, *, since: datetime, limit: int | None = None
) -> Sequence[SensorEvent]:
    stmt = (
        select(SensorEvent)
        .where(
            SensorEvent.household_id == household_id,
            SensorEvent.event_time >= since,
            SensorEvent.event.not_in(_LIVENESS_EVENTS),
        )
        .order_by(SensorEvent.event_time.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    return (await session.scalars(stmt)).all()


async def activity_counts(
    session: AsyncSession, household_id: str, *, now: datetime, tz: ZoneInfo, days: int = 7
) -> tuple[list[str], list[list[int]]]:
    """Sensor events per local hour for the last ``days`` local days (today last): labels and counts."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    counts = [[0] * 24 for _ in range(days)]
    result = await session.stream_scalars(
        select(SensorEvent.event_time).where(
            SensorEvent.household_id == household_id,
            SensorEvent.event_time >= start,
            SensorEvent.event_time <= now,
            SensorEvent.event.not_in(_LIVENESS_EVENTS),
        )
    )
    async for at in result:
        local = at.astimezone(tz)
        day = (local.date() - first).days
        if 0 <= day < days:
            counts[day][local.hour] += 1
    labels = [(first + timedelta(days=i)).strftime("%m-%d") for i in range(days)]
    return labels, counts


async def household_list(
    session: AsyncSession, *, search: str, limit: int = 200
) -> tuple[Sequence[Household], int, dict[str, Incident]]:
    """Households matching ``search`` on id, name, address or area; with their open incident."""
    stmt = select(Household)
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                *(
                    func.lower(col).like(pattern, escape="\\")
                    for col in (Household.id, Household.name, Household.address, Household.area)
                )
            )
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    households = (
        await session.scalars(
            stmt.options(selectinload(Household.residents))
            .order_by(Household.area, Household.id)
            .limit(limit)
        )
    ).all()
    ids = [h.id for h in households]
    open_incidents: dict[str, Incident] = {}
    if ids:
        for inc in await session.scalars(
            select(Incident).where(
                Incident.household_id.in_(ids), Incident.state.in_([s.value for s in ACTIVE_STATES])
            )
        ):
            open_incidents.setdefault(inc.household_id, inc)
    return households, total, open_incidents


async def household_incidents(
    session: AsyncSession, household_id: str, limit: int = 20
) -> Sequence[Incident]:
    return (
        await session.scalars(
            select(Incident)
            .where(Incident.household_id == household_id)
            .order_by(Incident.opened_at.desc())
            .limit(limit)
        )
    ).all()


@dataclass
class DeviceWorkList:
    offline: Sequence[Device]
    low_battery: Sequence[Device]
    unknown: Sequence[UnknownDevice]
    dead_letters: Sequence[DeadLetter]
    dead_total: int
    household_names: dict[str, str]


def is_offline(device: Device, now: datetime) -> bool:
    """Offline when marked so, or when a heartbeat device has missed two intervals."""
    if not device.online:
        return True
    if device.heartbeat_s and device.last_heartbeat_at is not None:
        return now - device.last_heartbeat_at > timedelta(seconds=2 * device.heartbeat_s)
    return False


def device_status(device: Device, now: datetime) -> str:
    """``never`` until a device's first message (it may not be switched on), then online or offline."""
    if device.last_seen_at is None and device.last_heartbeat_at is None:
        return "never"
    return "offline" if is_offline(device, now) else "online"


async def device_work_list(session: AsyncSession, *, now: datetime, dead_limit: int = 200) -> DeviceWorkList:
    devices = (await session.scalars(select(Device).order_by(Device.household_id, Device.id))).all()
    # A device that never reported belongs on the installers' list as much as one that went quiet.
    offline = [d for d in devices if device_status(d, now) != "online"]
    low = sorted(
        (d for d in devices if d.battery is not None and d.battery < LOW_BATTERY_PERCENT),
        key=lambda d: (d.battery or 0, d.id),
    )
    unknown = (await session.scalars(select(UnknownDevice).order_by(UnknownDevice.last_seen_at.desc()))).all()
    dead = (
        await session.scalars(select(DeadLetter).order_by(DeadLetter.received_at.desc()).limit(dead_limit))
    ).all()
    dead_total = await session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    wanted = {d.household_id for d in offline} | {d.household_id for d in low}
    names: dict[str, str] = {}
    if wanted:
        rows = await session.execute(select(Household.id, Household.name).where(Household.id.in_(wanted)))
        names = {hid: name for hid, name in rows.all()}
    return DeviceWorkList(offline, low, unknown, dead, dead_total, names)


async def user_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {uid: (name or username) for uid, name, username in rows.all()}
