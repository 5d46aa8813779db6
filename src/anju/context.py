"""What every part of a running Anju shares: settings, clock, database, metrics, live bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from anju.bus import EventBus
from anju.clock import Clock, RealClock
from anju.config import Settings
from anju.metrics import Metrics
from anju.store.db import SessionFactory, create_engine, session_factory

if TYPE_CHECKING:
    from anju.notify.policy import DeliveryPolicy
    from anju.notify.provider import Notifier

#: A readiness probe: returns True while its part (e.g. the MQTT connection) is working.
ReadinessCheck = Callable[[], bool]


@dataclass
class Context:
    settings: Settings
    db_engine: AsyncEngine
    db: SessionFactory
    clock: Clock = field(default_factory=RealClock)
    metrics: Metrics = field(default_factory=Metrics)
    bus: EventBus = field(default_factory=EventBus)
    #: Probes ``/readyz`` consults besides the database; the runtime registers e.g. ``"mqtt"``.
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    #: The providers the outbox sends through; built from the settings on first use if unset.
    notifier: Notifier | None = None
    #: Retries and report deadlines; None: ``anju.notify.DEFAULT_POLICY``.
    delivery_policy: DeliveryPolicy | None = None

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings, db_engine=engine, db=session_factory(engine), clock=clock or RealClock()
        )

    async def close(self) -> None:
        await self.db_engine.dispose()
