"""A harness with both phone providers: Twilio's fake and Aliyun's fake, routed by number."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from anju.clock import Clock
from anju.notify import DeliveryPolicy
from anju.store.models import AuditRecord, IncidentEvent
from tests.support.aliyun_fake import AliyunFake, AliyunSide, aliyun_env
from tests.support.settings import make_settings
from tests.support.twilio_fake import Harness, TwilioFake, harness, twilio_settings

FAST = DeliveryPolicy(backoff_base_s=0.0, backoff_max_s=0.0)


@dataclass
class Both:
    """Anju wired to both fakes, and Aliyun's side of the receipt pushes."""

    env: Harness
    aliyun: AliyunFake
    twilio: TwilioFake
    pushes: AliyunSide

    @property
    def ctx(self) -> Any:
        return self.env.ctx

    async def timeline(self, incident_id: int) -> list[IncidentEvent]:
        async with self.ctx.db() as session:
            query = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            return list(await session.scalars(query.order_by(IncidentEvent.id)))

    async def audit_actions(self) -> list[str]:
        async with self.ctx.db() as session:
            return list(await session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))


@contextlib.asynccontextmanager
async def both_providers(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    clock: Clock | None = None,
    policy: DeliveryPolicy = FAST,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> AsyncIterator[Both]:
    aliyun = await AliyunFake().start()
    twilio = await TwilioFake().start()
    try:
        for key, value in {**aliyun_env(aliyun.url), **(env or {})}.items():
            monkeypatch.setenv(key, value)
        settings = make_settings(db_url, **twilio_settings(twilio.url), **overrides)
        async with harness(settings, clock=clock, policy=policy) as h:
            yield Both(h, aliyun, twilio, AliyunSide(h.client))
    finally:
        await twilio.stop()
        await aliyun.stop()
