"""A phone that rings in the simulator: a check-in reaches the resident, who answers after a delay.

Every message is logged and reported sent (never delivered: nothing real happened). A check-in
call or SMS is handed to the simulated residents (``ResidentLine``); if one picks up, their key or
reply goes back after their delay on the service's clock, through the same entry point a webhook
uses. Anything else (alerts to contacts) is only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime

from anju.clock import Clock
from anju.domain import NotificationStatus
from anju.notify.phone import mask_phone
from anju.notify.provider import Outgoing, ResidentLine, Sent

log = logging.getLogger("anju.notify")


class SimulatedPhone:
    """Development stand-in for SMS and calls whose check-ins the simulated residents answer."""

    name = "simulated_phone"

    def __init__(self, residents: ResidentLine | None, *, clock: Clock) -> None:
        self.residents = residents
        self.clock = clock
        #: The latest messages (bounded: the demo runs for days).
        self.sent: deque[Outgoing] = deque(maxlen=1000)
        self._answers: set[asyncio.Task[None]] = set()

    async def _ring(self, message: Outgoing) -> Sent:
        self.sent.append(message)
        # DEBUG: at the demo's speeds every escalation step would otherwise fill the terminal.
        log.debug(
            "simulated %s %s to %s: %s",
            message.channel,
            message.notification_id,
            mask_phone(message.to),
            message.body,
        )
        if message.checkin_id is not None and self.residents is not None:
            picked = self.residents.pick_up(message, self.clock.now())
            if picked is not None:
                task = asyncio.create_task(self._answer_later(message, *picked))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)
        return Sent(
            provider=self.name,
            provider_id=f"sim-{message.notification_id}-{message.attempt}",
            status=NotificationStatus.SENT,
            tracked=False,
        )

    async def _answer_later(self, message: Outgoing, key: str, delay_s: float) -> None:
        assert self.residents is not None
        await self.clock.sleep(delay_s)
        try:
            await self.residents.answer(message, key)
        except Exception:  # a simulated answer must never take the outbox down
            log.exception("simulated answer to notification %s failed", message.notification_id)

    async def send_sms(self, message: Outgoing) -> Sent:
        return await self._ring(message)

    async def make_call(self, message: Outgoing) -> Sent:
        return await self._ring(message)

    async def find_sent(self, message: Outgoing, *, since: datetime, exclude: frozenset[str]) -> Sent | None:
        return None

    async def aclose(self) -> None:
        for task in list(self._answers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._answers.clear()
