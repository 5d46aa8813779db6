"""A check-in's attempts: whom it calls, when, and the outbox rows each attempt writes.

Inside the window (``window_s``, 10 min by default): at once a call to the resident's own phone and
an SMS to it (a reply is the second way to answer); a third of the window later a second call;
two thirds in, a call to the resident's mobile if there is one. The rows carry
``step = checkin:<id>:<attempt>``, so the outbox sends them like any other and their answers come
back to the check-in (``notify.checkin_script``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.domain import Channel, NotificationStatus
from anju.notify.checkin_script import checkin_step, sms_script, voice_script
from anju.notify.templates import language_of
from anju.store.models import Checkin, Notification, Resident

#: Attempts are spread over the window in this many slots; the deadline ends the last.
SLOTS = 3


@dataclass(frozen=True)
class Callee:
    """The resident a check-in asks, and the numbers it tries in order."""

    name: str
    language: str
    phone: str | None
    mobile: str | None

    def plan(self) -> list[tuple[str, str]]:
        """(number, which) per attempt: the own phone twice, then the mobile if there is one."""
        first = self.phone or self.mobile
        if first is None:
            return []
        which = "phone" if self.phone else "mobile"
        plan = [(first, which), (first, which)]
        if self.phone and self.mobile and self.mobile != self.phone:
            plan.append((self.mobile, "mobile"))
        return plan


async def callee_of(session: AsyncSession, household_id: str) -> Callee | None:
    """The household's first resident with a number; None when nobody can be called."""
    residents = await session.scalars(
        select(Resident).where(Resident.household_id == household_id).order_by(Resident.id)
    )
    for r in residents:
        phone, mobile = (r.phone or "").strip() or None, (r.mobile or "").strip() or None
        if phone or mobile:
            return Callee(r.name, r.language or "zh-CN", phone, mobile)
    return None


def slot_time(checkin: Checkin, attempt: int) -> datetime:
    """When attempt ``attempt`` (0-based) is due: evenly inside the window, from the call's time."""
    return checkin.asked_at + timedelta(seconds=checkin.window_s * attempt / SLOTS)


def place_attempt(
    session: AsyncSession, checkin: Checkin, callee: Callee, *, now: datetime
) -> list[Notification]:
    """Write the outbox rows of the check-in's next attempt and schedule the one after."""
    plan = callee.plan()
    k = checkin.attempts
    if k >= len(plan):
        checkin.next_attempt_at = None
        return []
    number, which = plan[k]
    lang = language_of(callee.language)
    rows = [_row(checkin, k, Channel.VOICE, number, callee, voice_script(callee.name, lang), now)]
    if k == 0:
        rows.append(_row(checkin, k, Channel.SMS, number, callee, sms_script(callee.name, lang), now))
    for row in rows:
        session.add(row)
    checkin.attempts = k + 1
    later = slot_time(checkin, k + 1)
    checkin.next_attempt_at = later if k + 1 < len(plan) and later < checkin.deadline else None
    attempts: list[Any] = list(checkin.detail.get("attempts", []))
    attempts.append(
        {
            "attempt": k + 1,
            "at": now.isoformat(),
            "to": which,
            "channels": [r.channel for r in rows],
        }
    )
    checkin.detail = {**checkin.detail, "attempts": attempts}
    return rows


def _row(
    checkin: Checkin, k: int, channel: Channel, number: str, callee: Callee, body: str, now: datetime
) -> Notification:
    return Notification(
        incident_id=None,
        channel=channel.value,
        recipient_name=callee.name,
        recipient_kind="resident",
        to_address=number,
        language=callee.language,
        body=body,
        status=NotificationStatus.PENDING.value,
        attempts=0,
        step=checkin_step(checkin.id, k + 1),
        created_at=now,
        updated_at=now,
    )
