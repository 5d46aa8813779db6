"""What the area overview, the follow-up page and the shift hand-over read and write.

Areas are paths, district → town → village (``徐汇区 / 天平街道 / 天平村``): the overview counts each
level. A hand-over is an audit record (``shift.handover``): written once, chained, never edited, so
the note the next shift reads is the note that was left.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.dispatch import service
from anju.domain import ACTIVE_STATES, IncidentState
from anju.store.models import AuditRecord, Device, Household, Incident, User

HANDOVER_ACTION = "shift.handover"
MAX_HANDOVER_NOTE = 4000
_AREA_SPLIT = re.compile(r"\s*[/／›>]\s*")


def area_path(area: str | None) -> tuple[str, ...]:
    """``"徐汇区 / 天平街道 / 天平村"`` as its levels (at most three: district, town, village)."""
    return tuple(p for p in (s.strip() for s in _AREA_SPLIT.split(area or "")) if p)[:3]


@dataclass
class AreaRow:
    path: tuple[str, ...]
    homes: int = 0
    open_incidents: int = 0
    unacknowledged: int = 0
    degraded: int = 0
    devices_offline: int = 0
    degraded_homes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return " › ".join(self.path)

    @property
    def level(self) -> int:
        return len(self.path)


async def area_overview(session: AsyncSession, *, now: datetime) -> list[AreaRow]:
    """Homes, open incidents and degraded monitoring for every district, town and village."""
    from anju.console.queries import device_status

    homes = (await session.scalars(select(Household).where(Household.active.is_(True)))).all()
    open_by_home: dict[str, list[str]] = {}
    for household_id, state in await session.execute(
        select(Incident.household_id, Incident.state).where(
            Incident.state.in_([s.value for s in ACTIVE_STATES])
        )
    ):
        open_by_home.setdefault(household_id, []).append(state)
    offline_by_home: dict[str, int] = {}
    for device in await session.scalars(select(Device)):
        if device_status(device, now) != "online":
            offline_by_home[device.household_id] = offline_by_home.get(device.household_id, 0) + 1
    rows: dict[tuple[str, ...], AreaRow] = {}
    for home in homes:
        path = area_path(home.area) or ("",)
        states = open_by_home.get(home.id, [])
        for depth in range(1, len(path) + 1):
            row = rows.setdefault(path[:depth], AreaRow(path[:depth]))
            row.homes += 1
            row.open_incidents += len(states)
            row.unacknowledged += sum(1 for s in states if s == IncidentState.OPEN.value)
            row.devices_offline += offline_by_home.get(home.id, 0)
            if home.monitoring_degraded:
                row.degraded += 1
                if depth == len(path) and len(row.degraded_homes) < 5:
                    row.degraded_homes.append(home.id)
    return [rows[k] for k in sorted(rows)]


@dataclass(frozen=True)
class FollowUp:
    incident: Incident
    household_name: str
    owner_name: str | None
    overdue_s: float


async def follow_up_list(session: AsyncSession, *, now: datetime) -> list[FollowUp]:
    """Every follow-up still to do, overdue ones first (most overdue first), then by due time."""
    incidents = await service.follow_ups(session, now=now, overdue=False)
    names = await _household_names(session, {i.household_id for i in incidents})
    owners = await _user_names(session, {i.owner_id for i in incidents if i.owner_id})
    rows = [
        FollowUp(
            i,
            names.get(i.household_id, i.household_id),
            owners.get(i.owner_id) if i.owner_id else None,
            (now - i.follow_up_due_at).total_seconds() if i.follow_up_due_at else 0.0,
        )
        for i in incidents
    ]
    return sorted(rows, key=lambda r: (-r.overdue_s, r.incident.id))


@dataclass(frozen=True)
class Handover:
    at: datetime
    actor: str
    note: str
    open_incidents: list[int]
    counts: dict[str, int]


async def open_items(session: AsyncSession) -> list[tuple[Incident, str, str | None]]:
    """Every incident not yet closed, with its household's name and owner: what the next shift inherits."""
    result = await session.execute(
        select(Incident, Household.name, User.display_name, User.username)
        .join(Household, Household.id == Incident.household_id)
        .outerjoin(User, User.id == Incident.owner_id)
        .where(Incident.state != IncidentState.CLOSED.value)
        .order_by(Incident.opened_at, Incident.id)
        .limit(500)
    )
    return [
        (inc, name, (display or username) if username else None) for inc, name, display, username in result
    ]


async def record_handover(
    session: AsyncSession,
    *,
    actor: str,
    note: str,
    now: datetime,
    open_ids: Sequence[int],
    counts: dict[str, int],
) -> AuditRecord:
    """The hand-over note and the open items at this moment, as one audit record."""
    content: dict[str, Any] = {
        "note": note[:MAX_HANDOVER_NOTE],
        "open_incidents": list(open_ids),
        "counts": counts,
    }
    return await audit.record(
        session, at=now, actor=actor, action=HANDOVER_ACTION, entity="shift", entity_id=actor, content=content
    )


async def recent_handovers(session: AsyncSession, limit: int = 10) -> list[Handover]:
    records = (
        await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == HANDOVER_ACTION)
            .order_by(AuditRecord.id.desc())
            .limit(limit)
        )
    ).all()
    handovers = []
    for rec in records:
        content = rec.content if isinstance(rec.content, dict) else {}
        ids = [int(i) for i in content.get("open_incidents", []) if isinstance(i, int)]
        counts = {str(k): int(v) for k, v in (content.get("counts") or {}).items() if isinstance(v, int)}
        handovers.append(Handover(rec.at, rec.actor, str(content.get("note", "")), ids, counts))
    return handovers


async def _household_names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Household.id, Household.name).where(Household.id.in_(ids)))
    return {hid: name for hid, name in rows.all()}


async def _user_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {uid: (name or username) for uid, name, username in rows.all()}
