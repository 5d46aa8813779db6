"""The queue's check-in lane: residents being asked right now, apart from the operators' incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from anju.context import Context
from anju.dispatch.checkins import CheckinState
from anju.store.models import Checkin, Household

#: A lane shows at most this many (a flood of check-ins must not bury the incidents below).
LANE_LIMIT = 50


@dataclass(frozen=True)
class LaneRow:
    checkin_id: int
    household_id: str
    household: str
    rule: str
    state: str
    asked_at: datetime
    deadline: datetime
    attempts: int


async def checkins_in_progress(ctx: Context) -> list[LaneRow]:
    """Check-ins still calling, the nearest deadline first."""
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(Checkin, Household.name)
                .join(Household, Household.id == Checkin.household_id)
                .where(Checkin.state == CheckinState.CALLING.value)
                .order_by(Checkin.deadline, Checkin.id)
                .limit(LANE_LIMIT)
            )
        ).all()
    return [
        LaneRow(c.id, c.household_id, name, c.rule, c.state, c.asked_at, c.deadline, c.attempts)
        for c, name in rows
    ]
