"""Review: one incident whose escalation step cannot fire does not stop the others' escalation."""

from __future__ import annotations

import copy

from sqlalchemy import select, update

from anju.clock import SimClock
from anju.context import Context
from anju.dispatch import escalation
from anju.domain import Rule
from anju.store.db import transaction
from anju.store.models import Incident, Notification
from tests.support.dispatch import add_household, incident_row, open_incident


async def test_an_incident_whose_stored_policy_cannot_be_resolved_does_not_hold_back_other_escalations(
    dctx: Context,
) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    broken_id = await open_incident(dctx, (await add_household(dctx)).id, Rule.BUTTON)
    clock.advance(1)
    healthy_id = await open_incident(dctx, (await add_household(dctx)).id, Rule.BUTTON)

    # A stored policy this version cannot read (written by a newer release, or edited by hand).
    snap = copy.deepcopy((await incident_row(dctx, broken_id)).escalation_policy)
    for step in snap["steps"]:
        step["notify"] = [{"to": "pager", "channel": "voice"}]
    async with transaction(dctx.db) as session:
        await session.execute(update(Incident).where(Incident.id == broken_id).values(escalation_policy=snap))

    clock.advance(60)  # both incidents' supervisor call is due; the broken one comes first
    assert await escalation.run_due_escalations(dctx, clock.now()) == 1
    async with dctx.db() as session:
        steps = (
            await session.scalars(select(Notification.step).where(Notification.incident_id == healthy_id))
        ).all()
    assert "call_supervisor" in steps
    # The broken incident is left due (retried next pass), not silently skipped past its step.
    broken = await incident_row(dctx, broken_id)
    assert broken.escalation_step == 1
    assert broken.next_escalation_at is not None and broken.next_escalation_at <= clock.now()
