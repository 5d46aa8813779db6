"""The demo's residents answer check-ins (issue 13): the simulated phone hands them the call or SMS.

``anju demo`` configures no real phone provider; the dev-only simulated phone gives each check-in
call or SMS to the simulator's resident of that number (:class:`~anju.simulator.answers.ResidentPhones`),
and the answer comes back here after the resident's delay on the demo's clock, into the very entry
point a provider's webhook uses (``dispatch.checkins.answered_by_phone``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from anju.context import Context
from anju.dispatch.checkins import answered_by_phone
from anju.domain import Channel
from anju.notify.checkin_script import read_answer
from anju.notify.phone import mask_phone
from anju.notify.provider import Outgoing
from anju.simulator.answers import ResidentPhones
from anju.store.db import transaction
from anju.store.models import Notification

log = logging.getLogger("anju.demo")


class DemoResidents:
    """The simulated residents behind their phones (a ``ResidentLine`` for the simulated phone)."""

    def __init__(self, ctx: Context, phones: ResidentPhones) -> None:
        self.ctx = ctx
        self.phones = phones

    def pick_up(self, message: Outgoing, at: datetime) -> tuple[str, float] | None:
        if message.checkin_id is None:
            return None
        reply = self.phones.pick_up(message.to, at=at, checkin_id=message.checkin_id)
        if reply is None or reply.key is None:
            return None
        return reply.key, reply.delay_s

    async def answer(self, message: Outgoing, key: str) -> None:
        answer = read_answer(key)
        if answer is None:
            return
        via = "sms" if message.channel is Channel.SMS else "keypad"
        now = self.ctx.clock.now()
        async with transaction(self.ctx.db) as session:
            row = await session.get(Notification, message.notification_id)
            if row is None:
                return
            done = await answered_by_phone(session, row, answer, via=via, raw=key, now=now, bus=self.ctx.bus)
        log.info(
            "simulated resident %s answered check-in %s by %s: %s",
            mask_phone(message.to),
            done.id if done is not None else message.checkin_id,
            via,
            answer.value,
        )
