"""Every kind of change issue 5 names leaves exactly one audit record of its kind, and the chain holds.

Transition, ownership, note, escalation step, notification (created, and its delivery report from
Twilio), rule override, user and household edits, and the escalation policy: each done the way the
running system does it (the API, the escalation runner, a signed Twilio callback).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.dispatch import escalation, service
from anju.dispatch.policy import current_policies
from anju.domain import Channel, Role
from anju.store.db import transaction
from anju.store.models import AuditRecord, Notification
from tests.support.admin import chain_ok, copy_rules, last_audit_id, records
from tests.support.api import PASSWORD, client_for, household_body
from tests.support.dispatch import add_user, finding
from tests.support.settings import make_settings
from tests.support.twilio_fake import AUTH_TOKEN, PUBLIC_URL, sign


@pytest.fixture
async def ctx(db_url: str, tmp_path: Path, sim_clock: SimClock) -> AsyncIterator[Context]:
    settings = make_settings(
        db_url, rules_dir=copy_rules(tmp_path), twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC_URL
    )
    context = Context.create(settings, clock=sim_clock)
    try:
        yield context
    finally:
        await context.close()


async def _one(
    ctx: Context, change: Callable[[], Awaitable[Any]], action: str, *, also: frozenset[str] = frozenset()
) -> AuditRecord:
    """Do ``change``; it must leave exactly one ``action`` record (plus only records in ``also``)."""
    before_id = await last_audit_id(ctx)
    await change()
    new = await records(ctx, after_id=before_id)
    mine = [r for r in new if r.action == action]
    assert len(mine) == 1, (action, [r.action for r in new])
    assert {r.action for r in new} - {action} <= also, (action, [r.action for r in new])
    await chain_ok(ctx)
    return mine[0]


def _ok(response: httpx.Response, status: int = 200) -> None:
    assert response.status_code == status, response.text


async def test_each_kind_of_change_leaves_exactly_one_audit_record_and_the_chain_stays_intact(
    ctx: Context,
) -> None:
    clock = ctx.clock
    assert isinstance(clock, SimClock)
    admin, admin_h = await add_user(ctx, Role.ADMIN)
    operator, operator_h = await add_user(ctx, Role.OPERATOR)
    relief, _ = await add_user(ctx, Role.OPERATOR)
    rules = Path(ctx.settings.rules_dir) / "escalation.toml"
    async with client_for(ctx) as http:

        async def call(method: str, url: str, headers: dict[str, str], status: int = 200, **kw: Any) -> Any:
            response = await http.request(method, url, headers=headers, **kw)
            _ok(response, status)
            return response.json() if response.content else None

        # Households: created, edited, their rule overrides changed (each its own record).
        hid = "h-audit"
        rec = await _one(
            ctx,
            lambda: call("POST", "/api/v1/households", admin_h, 201, json=household_body(hid)),
            "household.create",
        )
        assert rec.actor == admin.username
        rec = await _one(
            ctx,
            lambda: call("PATCH", f"/api/v1/households/{hid}", admin_h, json={"notes": "糖尿病"}),
            "household.update",
        )
        assert rec.content == {"notes": {"from": "", "to": "糖尿病"}}
        overrides = {"inactivity": {"threshold": {"night": "8h"}}}
        rec = await _one(
            ctx,
            lambda: call("PATCH", f"/api/v1/households/{hid}", admin_h, json={"rule_overrides": overrides}),
            "household.rule_overrides",
        )
        assert rec.content["to"] == overrides

        # Users: created and edited by an admin.
        body = {"username": "auditee", "password": PASSWORD, "role": "operator"}
        created = await _one(
            ctx, lambda: call("POST", "/api/v1/users", admin_h, 201, json=body), "user.create"
        )
        rec = await _one(
            ctx,
            lambda: call("PATCH", f"/api/v1/users/{created.entity_id}", admin_h, json={"active": False}),
            "user.update",
        )
        assert rec.content["changes"] == {"active": {"from": True, "to": False}}

        # The escalation policy file.
        text = rules.read_text(encoding="utf-8") + "\n# reviewed by the care manager\n"
        headers = {**admin_h, "Content-Type": "application/toml"}
        await _one(
            ctx,
            lambda: call("PUT", "/api/v1/policies/escalation", headers, content=text),
            "policy.escalation_update",
        )

        # An alarm: the incident opens (its first step and notifications with it).
        async def press() -> None:
            async with transaction(ctx.db) as session:
                await service.raise_findings(
                    session, [finding(hid, at=clock.now())], now=clock.now(), policies=current_policies(rules)
                )

        opened = await _one(
            ctx,
            press,
            "incident.open",
            also=frozenset({"alert.raise", "incident.escalation_step", "notification.create"}),
        )
        incident = f"/api/v1/incidents/{opened.entity_id}"

        # An escalation step fired by the runner a minute later: one step, its notifications.
        async def one_minute_later() -> None:
            clock.advance(60)
            assert (
                await escalation.run_due_escalations(ctx, clock.now(), policies=current_policies(rules)) == 1
            )

        step = await _one(
            ctx, one_minute_later, "incident.escalation_step", also=frozenset({"notification.create"})
        )
        assert step.actor == "escalation"

        # A notification's delivery report from Twilio (signed callback).
        async with ctx.db() as session:
            sms = await session.scalar(
                select(Notification).where(
                    Notification.incident_id == int(opened.entity_id),
                    Notification.channel == Channel.SMS.value,
                )
            )
        assert sms is not None and sms.status == "pending"
        url = f"{PUBLIC_URL}/twilio/sms/status?n={sms.id}"
        form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
        rec = await _one(
            ctx,
            lambda: call("POST", url, {"X-Twilio-Signature": sign(url, form)}, 204, data=form),
            "notification.status",
        )
        assert rec.entity_id == str(sms.id)
        assert {k: rec.content[k] for k in ("from", "to", "channel")} == {
            "from": "pending",
            "to": "delivered",
            "channel": "sms",
        }

        # The operator acknowledges (a transition that also makes them the owner), notes, hands over.
        rec = await _one(
            ctx,
            lambda: call("POST", f"{incident}/transitions", operator_h, json={"to": "acknowledged"}),
            "incident.transition",
        )
        assert rec.actor == operator.username
        await _one(
            ctx,
            lambda: call("POST", f"{incident}/notes", operator_h, json={"note": "电话无人接听"}),
            "incident.note",
        )
        rec = await _one(
            ctx,
            lambda: call(
                "POST", f"{incident}/owner", operator_h, json={"user_id": relief.id, "note": "交班"}
            ),
            "incident.owner_transfer",
        )
        assert rec.actor == operator.username
    async with ctx.db() as session:
        stored = len((await session.scalars(select(AuditRecord.id))).all())
    assert await chain_ok(ctx) == stored  # every record is in the one chain
