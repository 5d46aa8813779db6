"""Every (from, to) pair of the incident state machine through the API: legal edges move, others 409."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from anju.context import Context
from anju.domain import TRANSITIONS, IncidentState, Role
from anju.store.models import AuditRecord, Incident, IncidentEvent
from tests.support.dispatch import add_household, add_user, client, drive, finish_active, open_incident


def _body(to: IncidentState) -> dict[str, Any]:
    body: dict[str, Any] = {"to": to.value, "note": "电话确认"}
    if to is IncidentState.DISPATCHED:
        body |= {"responder_name": "邻居 张阿姨", "responder_kind": "neighbour"}
    if to is IncidentState.RESOLVED:
        body |= {"outcome": "resident_well", "note": "老人安好，误按"}
    return body


async def _snapshot(ctx: Context, incident_id: int) -> tuple[dict[str, Any], int, int]:
    async with ctx.db() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        row = {c.key: getattr(incident, c.key) for c in Incident.__table__.columns}
        events = await session.scalar(
            select(func.count()).select_from(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
        )
        audits = await session.scalar(select(func.count()).select_from(AuditRecord))
    return row, int(events or 0), int(audits or 0)


@pytest.mark.parametrize("start", list(IncidentState), ids=lambda s: s.value)
async def test_every_edge_from_state_moves_if_legal_and_is_409_with_nothing_changed_otherwise(
    dctx: Context, start: IncidentState
) -> None:
    household = await add_household(dctx)
    _admin, headers = await add_user(dctx, Role.ADMIN)
    async with client(dctx) as http:
        for to in IncidentState:
            incident_id = await open_incident(dctx, household.id)
            await drive(dctx, incident_id, start)
            if start in (IncidentState.RESOLVED, IncidentState.FOLLOW_UP) and to is IncidentState.CLOSED:
                r = await http.post(
                    f"/api/v1/incidents/{incident_id}/follow-up", json={"action": "done"}, headers=headers
                )
                assert r.status_code == 200, r.text
            before = await _snapshot(dctx, incident_id)
            r = await http.post(
                f"/api/v1/incidents/{incident_id}/transitions", json=_body(to), headers=headers
            )
            if to in TRANSITIONS[start]:
                assert r.status_code == 200, (start, to, r.text)
                assert r.json()["state"] == to.value
                after = await _snapshot(dctx, incident_id)
                assert after[1] == before[1] + 1, "one timeline entry per transition"
                assert after[2] > before[2], "the transition is audited"
            else:
                assert r.status_code == 409, (start, to, r.text)
                assert await _snapshot(dctx, incident_id) == before, (start, to)
            # Finish it so the household's next incident opens fresh instead of joining this one.
            await finish_active(dctx, incident_id)
