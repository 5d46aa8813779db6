"""Development stand-in: writes each message to the log and reports it sent, never delivered."""

from __future__ import annotations

import logging
from datetime import datetime

from anju.domain import NotificationStatus
from anju.notify.provider import Outgoing, Sent

log = logging.getLogger("anju.notify")


class LogProvider:
    """Development stand-in: writes each message to the log and reports it sent, never delivered."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def _record(self, message: Outgoing) -> Sent:
        self.sent.append(message)
        log.info(
            "notification %s (%s to %s): %s",
            message.notification_id,
            message.channel,
            message.to,
            message.body,
        )
        return Sent(
            provider=self.name,
            provider_id=f"log-{message.notification_id}-{message.attempt}",
            status=NotificationStatus.SENT,
            tracked=False,
        )

    async def send_sms(self, message: Outgoing) -> Sent:
        return await self._record(message)

    async def make_call(self, message: Outgoing) -> Sent:
        return await self._record(message)

    async def post(self, message: Outgoing) -> Sent:
        return await self._record(message)

    async def find_sent(self, message: Outgoing, *, since: datetime, exclude: frozenset[str]) -> Sent | None:
        return None

    async def aclose(self) -> None:
        return None
