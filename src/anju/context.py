"""What every part of a running Anju shares: settings, clock, database, metrics, live bus."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from anju.bus import EventBus
from anju.clock import Clock, RealClock
from anju.config import Settings
from anju.metrics import Metrics
from anju.store.db import SessionFactory, create_engine, session_factory


@dataclass
class Context:
    settings: Settings
    db_engine: AsyncEngine
    db: SessionFactory
    clock: Clock = field(default_factory=RealClock)
    metrics: Metrics = field(default_factory=Metrics)
    bus: EventBus = field(default_factory=EventBus)

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings, db_engine=engine, db=session_factory(engine), clock=clock or RealClock()
        )

    async def close(self) -> None:
        await self.db_engine.dispose()
