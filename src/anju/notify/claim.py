"""Claiming an outbox row for one send: the committed claim, and the text rendered at claim time.

A row is claimed (``pending`` → ``sending``, ``attempts`` + 1) and that claim is committed before
the provider is called, so no second worker sends it. Its body is rendered and stored at the claim,
so a resend (and a lookup of the provider's copy after a crash) uses the very same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from anju.context import Context
from anju.domain import Channel, NotificationStatus
from anju.notify.checkin_script import checkin_of_row
from anju.notify.content import alert_facts, is_visit_request, render
from anju.notify.phone import normalize_phone
from anju.notify.provider import Outgoing
from anju.notify.routing import route_for
from anju.notify.templates import AlertFacts
from anju.store.db import transaction
from anju.store.models import Incident, Notification

_S = NotificationStatus


@dataclass(frozen=True)
class Claimed:
    id: int
    attempt: int
    channel: Channel
    to: str
    body: str
    language: str
    created_at: datetime
    incident_id: int | None = None
    household_id: str | None = None
    recipient: str | None = None
    facts: AlertFacts | None = None
    #: The provider named for the row (household's, contact's, or a failover's), and whether the
    #: row is a failover pinned to it.
    route: str | None = None
    pinned: bool = False
    checkin_id: int | None = None

    def outgoing(self) -> Outgoing:
        return Outgoing(
            notification_id=self.id,
            attempt=self.attempt,
            channel=self.channel,
            to=self.to,
            body=self.body,
            language=self.language,
            incident_id=self.incident_id,
            household_id=self.household_id,
            recipient=self.recipient,
            facts=self.facts,
            route=self.route,
            pinned=self.pinned,
            checkin_id=self.checkin_id,
        )


async def claim(ctx: Context, row_id: int, now: datetime) -> Claimed | None:
    """Take one due row for this worker; the committed claim is what prevents a second send."""
    async with transaction(ctx.db) as session:
        result = await session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.status == _S.PENDING.value)
            .values(status=_S.SENDING.value, attempts=Notification.attempts + 1, updated_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = await session.get(Notification, row_id, populate_existing=True)
        assert row is not None
        channel = Channel(row.channel)
        if channel in (Channel.SMS, Channel.VOICE):
            row.to_address = normalize_phone(row.to_address)
        incident = await session.get(Incident, row.incident_id) if row.incident_id is not None else None
        facts = None
        if incident is not None:
            visit = is_visit_request(incident, row)
            tz = ctx.settings.timezone
            facts = await alert_facts(
                session, incident, default_tz=tz, visit_request=visit, public_url=ctx.settings.public_url
            )
        # Stored at the claim so a resend (and a lookup after a crash) uses the very same text.
        row.body = render(row, incident, facts)
        route, pinned = await route_for(session, row, incident)
        return Claimed(
            row.id,
            row.attempts,
            channel,
            row.to_address,
            row.body,
            row.language,
            row.created_at,
            incident_id=row.incident_id,
            household_id=incident.household_id if incident is not None else None,
            recipient=row.recipient_name,
            facts=facts,
            route=route,
            pinned=pinned,
            checkin_id=await checkin_of_row(session, row),
        )


async def provider_ids_elsewhere(ctx: Context, claimed: Claimed) -> frozenset[str]:
    async with ctx.db() as session:
        ids = await session.scalars(
            select(Notification.provider_id).where(
                Notification.to_address == claimed.to,
                Notification.channel == claimed.channel.value,
                Notification.provider_id.is_not(None),
                Notification.id != claimed.id,
            )
        )
        return frozenset(i for i in ids if i)
