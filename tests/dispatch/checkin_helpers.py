"""A home with check-ins on (rules/checkin.toml), its resident's phone, and a pipeline on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.domain import DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.model import Observation
from anju.engine.pack import load_pack
from anju.runtime import Pipeline
from anju.store.db import transaction
from anju.store.models import (
    Checkin,
    Device,
    Household,
    Incident,
    IncidentEvent,
    Notification,
    Resident,
    SensorEvent,
)
from tests.support.settings import make_settings

SH = ZoneInfo("Asia/Shanghai")
PHONE, MOBILE = "+8613800000001", "+8613900000002"


def at(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """Local time on 2026-03-01 (motion until 10:00: the check-in is placed at 13:00, due 13:10)."""
    return datetime(2026, 3, 1, hh, mm, ss, tzinfo=SH)


@dataclass
class Home:
    ctx: Context
    clock: SimClock
    pipe: Pipeline
    hid: str
    seq: int = 0

    def new_pipeline(self) -> Pipeline:
        return Pipeline(self.ctx, Engine(load_pack(self.ctx.settings.rules_dir / "checkin.toml")))

    async def motion(self, when: datetime) -> None:
        """A stored PIR event and the engine's observation of it, as ingest does."""
        self.clock.set(when)
        self.seq += 1
        async with transaction(self.ctx.db) as session:
            session.add(
                SensorEvent(
                    device_id=f"{self.hid}-pir",
                    household_id=self.hid,
                    type="pir",
                    event="motion",
                    seq=self.seq,
                    ts=when,
                    received_at=when,
                    event_time=when,
                )
            )
            obs = Observation(
                household_id=self.hid,
                device_id=f"{self.hid}-pir",
                kind=DeviceKind.PIR,
                event=EventName.MOTION,
                at=when,
            )
            await self.pipe.on_stored(session, [obs])

    async def tick(self, when: datetime) -> None:
        self.clock.set(when)
        await self.pipe.tick(when)

    async def checkins(self) -> list[Checkin]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(Checkin).where(Checkin.household_id == self.hid).order_by(Checkin.id)
                )
            )

    async def rows(self) -> list[Notification]:
        async with self.ctx.db() as session:
            return list(
                await session.scalars(
                    select(Notification)
                    .where(
                        Notification.recipient_kind == "resident", Notification.to_address.in_(self.numbers)
                    )
                    .order_by(Notification.id)
                )
            )

    numbers: tuple[str, ...] = ()

    async def incidents(self) -> list[Incident]:
        async with self.ctx.db() as session:
            return list(await session.scalars(select(Incident).where(Incident.household_id == self.hid)))

    async def timeline(self, incident_id: int) -> list[IncidentEvent]:
        async with self.ctx.db() as session:
            q = (
                select(IncidentEvent)
                .where(IncidentEvent.incident_id == incident_id)
                .order_by(IncidentEvent.id)
            )
            return list(await session.scalars(q))

    async def answer_events(self) -> list[SensorEvent]:
        async with self.ctx.db() as session:
            q = select(SensorEvent).where(SensorEvent.household_id == self.hid, SensorEvent.type == "checkin")
            return list(await session.scalars(q))


@asynccontextmanager
async def checkin_home(
    db_url: str,
    hid: str,
    *,
    phone: str | None = PHONE,
    mobile: str | None = MOBILE,
    overrides: dict[str, Any] | None = None,
    language: str = "zh-CN",
) -> AsyncIterator[Home]:
    """Household ``hid`` with a PIR in the living room and one resident; motion until 10:00."""
    clock = SimClock(at(9))
    ctx = Context.create(make_settings(db_url), clock=clock)
    uniq = hid[-6:]
    phone = phone and phone[:-6] + uniq
    mobile = mobile and mobile[:-6] + uniq[::-1]
    async with transaction(ctx.db) as session:
        session.add(
            Household(
                id=hid, name="王奶奶家", rule_overrides=overrides or {}, created_at=at(9), updated_at=at(9)
            )
        )
        await session.flush()
        session.add(Resident(household_id=hid, name="王秀英", phone=phone, mobile=mobile, language=language))
        session.add(
            Device(
                id=f"{hid}-pir",
                household_id=hid,
                type="pir",
                location="living room",
                protocol="anju-v1",
                profile="anju-pir",
                created_at=at(9),
            )
        )
    home = Home(ctx, clock, Pipeline(ctx, Engine(load_pack(ctx.settings.rules_dir / "checkin.toml"))), hid)
    home.numbers = tuple(n for n in (phone, mobile) if n)
    await home.pipe.configure_from_db()
    await home.motion(at(9, 30))
    await home.motion(at(10))
    try:
        yield home
    finally:
        await ctx.close()
