"""Helpers for the dispatch tests: a household with contacts, users, findings, incidents in any state."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from anju.clock import RealClock, SimClock
from anju.context import Context
from anju.dispatch import service
from anju.dispatch.service import Responder, ResponderKind
from anju.domain import RULE_SEVERITY, IncidentState, Outcome, Role, Rule
from anju.engine.model import Finding
from anju.store.db import transaction
from anju.store.models import Contact, Household, Incident, User
from anju.web.deps import issue_token

#: The path each state is reached by, from ``open``.
PATH = {
    IncidentState.OPEN: [],
    IncidentState.ACKNOWLEDGED: [IncidentState.ACKNOWLEDGED],
    IncidentState.DISPATCHED: [IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED],
    IncidentState.RESOLVED: [IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED, IncidentState.RESOLVED],
    IncidentState.FOLLOW_UP: [
        IncidentState.ACKNOWLEDGED,
        IncidentState.DISPATCHED,
        IncidentState.RESOLVED,
        IncidentState.FOLLOW_UP,
    ],
    IncidentState.CLOSED: [
        IncidentState.ACKNOWLEDGED,
        IncidentState.DISPATCHED,
        IncidentState.RESOLVED,
        IncidentState.FOLLOW_UP,
        IncidentState.CLOSED,
    ],
}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def add_household(ctx: Context, household_id: str | None = None, *, contacts: int = 2) -> Household:
    hid = household_id or uid("h")
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        household = Household(
            id=hid,
            name="王秀英",
            address="上海市徐汇区天平路 88 弄 3 号 502",
            area="天平街道",
            timezone="Asia/Shanghai",
            rule_overrides={},
            created_at=now,
            updated_at=now,
        )
        session.add(household)
        for i in range(contacts):
            session.add(
                Contact(
                    household_id=hid,
                    name=["李明", "张阿姨", "陈伟"][i % 3],
                    relation=["son", "neighbour", "grid_worker"][i % 3],
                    phone=f"+86139000000{i:02d}",
                    language="zh-CN",
                    priority=i,
                )
            )
    return household


async def contact_ids(ctx: Context, household_id: str) -> list[int]:
    async with ctx.db() as session:
        rows = await session.scalars(
            select(Contact.id).where(Contact.household_id == household_id).order_by(Contact.priority)
        )
        return list(rows.all())


async def add_user(
    ctx: Context, role: Role, *, contact_id: int | None = None, phone: str | None = None
) -> tuple[User, dict[str, str]]:
    """A user of ``role`` (no password: tokens are issued directly) and its bearer header."""
    async with transaction(ctx.db) as session:
        user = User(
            username=uid(role.value),
            password_hash="!",
            role=role.value,
            display_name=role.value,
            phone=phone,
            language="zh-CN",
            contact_id=contact_id,
            active=True,
            created_at=ctx.clock.now(),
        )
        session.add(user)
    # Tokens are checked against wall-clock time, whatever the simulated clock says.
    token = issue_token(dataclasses.replace(ctx, clock=RealClock()), user)
    return user, {"Authorization": f"Bearer {token}"}


def finding(household_id: str, rule: Rule = Rule.BUTTON, *, at: datetime, key: str | None = None) -> Finding:
    return Finding(
        household_id=household_id,
        rule=rule,
        severity=RULE_SEVERITY[rule],
        at=at,
        key=key or uid("k"),
        detail={},
    )


async def open_incident(ctx: Context, household_id: str, rule: Rule = Rule.BUTTON) -> int:
    async with transaction(ctx.db) as session:
        result = await service.raise_findings(
            session, [finding(household_id, rule, at=ctx.clock.now())], now=ctx.clock.now()
        )
    assert result.opened, "expected a new incident"
    return result.opened[0].id


async def drive(ctx: Context, incident_id: int, target: IncidentState, *, user: User | None = None) -> None:
    """Move a fresh incident to ``target`` by the legal path, through the service."""
    clock = ctx.clock
    assert isinstance(clock, SimClock)
    for to in PATH[target]:
        clock.advance(30)
        kwargs: dict[str, Any] = {}
        if to is IncidentState.DISPATCHED:
            kwargs["responder"] = Responder(name="网格员 陈伟", kind=ResponderKind.GRID_WORKER)
        if to is IncidentState.RESOLVED:
            kwargs["outcome"] = Outcome.TAKEN_TO_HOSPITAL.value
            kwargs["note"] = "摔倒，已送医院"
        async with transaction(ctx.db) as session:
            if to is IncidentState.CLOSED:
                await service.settle_follow_up(session, incident_id, actor="test", now=clock.now(), done=True)
            await service.transition(
                session, incident_id, to=to, actor="test", now=clock.now(), user=user, **kwargs
            )


async def incident_row(ctx: Context, incident_id: int) -> Incident:
    async with ctx.db() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        return incident


def client(ctx: Context) -> httpx.AsyncClient:
    from anju.web.app import create_app

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://anju.test")


async def finish_active(ctx: Context, incident_id: int) -> None:
    """Resolve the incident if it is still active, so it stops absorbing the household's alerts."""
    incident = await incident_row(ctx, incident_id)
    state = IncidentState(incident.state)
    if state not in (IncidentState.OPEN, IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED):
        return
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        if state is IncidentState.OPEN:
            await service.transition(
                session, incident_id, to=IncidentState.ACKNOWLEDGED, actor="test", now=now
            )
        await service.transition(
            session,
            incident_id,
            to=IncidentState.RESOLVED,
            actor="test",
            now=now,
            outcome=Outcome.FALSE_ALARM.value,
            note="test cleanup",
        )
