"""Escalation: steps on time, into the outbox, once each, across restarts, and never after acknowledgement."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from anju.clock import SimClock
from anju.context import Context
from anju.dispatch import escalation, service
from anju.dispatch.policy import load_policies, parse_policies
from anju.domain import IncidentState, NotificationStatus, Rule, Severity
from anju.store.db import transaction
from anju.store.models import Alert, Incident, IncidentEvent, Notification
from tests.support.dispatch import add_household, finding, incident_row, open_incident
from tests.support.settings import make_settings

POLICY_FILE = Path(__file__).resolve().parents[2] / "rules" / "escalation.toml"


async def _notifications(ctx: Context, incident_id: int) -> list[Notification]:
    async with ctx.db() as session:
        rows = await session.scalars(
            select(Notification).where(Notification.incident_id == incident_id).order_by(Notification.id)
        )
        return list(rows.all())


def _steps(notes: list[Notification]) -> list[str]:
    return [n.step or "" for n in notes]


async def test_critical_incident_tells_console_and_duty_phone_in_the_transaction_that_opens_it(
    dctx: Context,
) -> None:
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id, Rule.BUTTON)
    notes = await _notifications(dctx, incident_id)
    assert [(n.step, n.channel, n.to_address) for n in notes] == [
        ("notify_duty", "console", "console"),
        ("notify_duty", "sms", "+8613800000001"),
    ]
    assert all(n.status == NotificationStatus.PENDING.value for n in notes)
    assert "紧急" in notes[1].body and "王秀英" in notes[1].body and f"#{incident_id}" in notes[1].body
    incident = await incident_row(dctx, incident_id)
    assert incident.escalation_step == 1
    assert incident.escalation_policy["severity"] == "critical"
    assert incident.next_escalation_at == incident.opened_at + timedelta(seconds=60)


async def test_critical_chain_runs_supervisor_then_contacts_in_order_then_repeats(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx, contacts=2)
    incident_id = await open_incident(dctx, household.id, Rule.BUTTON)

    clock.advance(59)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 0
    clock.advance(1)  # 60 s unacknowledged: the supervisor's phone rings
    assert await escalation.run_due_escalations(dctx, clock.now()) == 1
    notes = await _notifications(dctx, incident_id)
    assert (notes[-1].step, notes[-1].channel, notes[-1].to_address) == (
        "call_supervisor",
        "voice",
        "+8613800000002",
    )

    clock.advance(120)  # 3 min: the first contact, then the next one a minute later
    assert await escalation.run_due_escalations(dctx, clock.now()) == 1
    clock.advance(60)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 1
    notes = await _notifications(dctx, incident_id)
    assert [(n.step, n.to_address) for n in notes[-2:]] == [
        ("call_contacts#1", "+8613900000000"),
        ("call_contacts#2", "+8613900000001"),
    ]

    clock.advance(299)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 0
    clock.advance(1)  # five minutes after the last step, the chain starts again
    assert await escalation.run_due_escalations(dctx, clock.now()) == 1
    assert _steps(await _notifications(dctx, incident_id))[-2:] == ["notify_duty", "notify_duty"]
    async with dctx.db() as session:
        kinds = (
            await session.scalars(
                select(IncidentEvent.note).where(
                    IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "escalation"
                )
            )
        ).all()
    assert kinds == ["notify_duty", "call_supervisor", "call_contacts#1", "call_contacts#2", "notify_duty"]


async def test_acknowledging_stops_the_chain(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    clock.advance(30)
    async with transaction(dctx.db) as session:
        await service.transition(
            session, incident_id, to=IncidentState.ACKNOWLEDGED, actor="op", now=clock.now()
        )
    before = len(await _notifications(dctx, incident_id))
    clock.advance(3600)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 0
    assert len(await _notifications(dctx, incident_id)) == before
    assert (await incident_row(dctx, incident_id)).next_escalation_at is None


async def test_restart_between_steps_fires_each_missed_step_once_right_after_start(
    pg_url: str, sim_clock: SimClock
) -> None:
    first = Context.create(make_settings(pg_url), clock=sim_clock)
    household = await add_household(first, contacts=2)
    incident_id = await open_incident(first, household.id)
    await first.close()  # the service stops with the supervisor's call 60 s away

    sim_clock.advance(200)  # down for 200 s: call_supervisor (60 s) and call_contacts#1 (180 s) are due
    # Two instances come back at once and race for the due steps.
    a = Context.create(make_settings(pg_url), clock=sim_clock)
    b = Context.create(make_settings(pg_url), clock=sim_clock)
    try:
        fired = await asyncio.gather(
            escalation.run_due_escalations(a, sim_clock.now()),
            escalation.run_due_escalations(b, sim_clock.now()),
        )
        assert sum(fired) == 2
        steps = _steps(await _notifications(a, incident_id))
        assert steps == ["notify_duty", "notify_duty", "call_supervisor", "call_contacts#1"]
        assert await escalation.run_due_escalations(a, sim_clock.now()) == 0  # none twice

        sim_clock.advance(40)  # 240 s after opening: the second contact, on its original schedule
        assert await escalation.run_due_escalations(b, sim_clock.now()) == 1
        assert _steps(await _notifications(b, incident_id))[-1] == "call_contacts#2"
    finally:
        await a.close()
        await b.close()


async def test_escalation_loop_fires_due_steps_and_stops_when_told(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    clock.advance(61)
    stop = asyncio.Event()
    task = asyncio.create_task(escalation.escalation_loop(dctx, stop, interval_s=0.05))
    for _ in range(100):
        if "call_supervisor" in _steps(await _notifications(dctx, incident_id)):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert _steps(await _notifications(dctx, incident_id)).count("call_supervisor") == 1


async def test_editing_the_policy_file_never_changes_an_incident_in_flight(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id)
    stored = (await incident_row(dctx, incident_id)).escalation_policy
    # Someone edits the file: the supervisor's call moves to 170 s.
    text = POLICY_FILE.read_text(encoding="utf-8").replace("after_s = 60\n", "after_s = 170\n")
    edited = parse_policies(tomllib.loads(text))
    clock.advance(60)
    assert await escalation.run_due_escalations(dctx, clock.now(), policies=edited) == 1
    assert _steps(await _notifications(dctx, incident_id))[-1] == "call_supervisor"
    assert (await incident_row(dctx, incident_id)).escalation_policy == stored


async def test_alerts_join_the_active_incident_and_raise_its_severity_and_escalation(dctx: Context) -> None:
    household = await add_household(dctx)
    incident_id = await open_incident(dctx, household.id, Rule.DOOR_LEFT_OPEN)
    incident = await incident_row(dctx, incident_id)
    assert incident.severity == Severity.MEDIUM.value
    assert [(n.step, n.channel) for n in await _notifications(dctx, incident_id)] == [
        ("notify_duty", "console")
    ]

    now = dctx.clock.now()
    async with transaction(dctx.db) as session:
        result = await service.raise_findings(
            session,
            [finding(household.id, Rule.LOW_BATTERY, at=now), finding(household.id, Rule.BUTTON, at=now)],
            now=now,
        )
    assert result.opened == [] and [i.id for i in result.joined] == [incident_id]
    incident = await incident_row(dctx, incident_id)
    assert incident.severity == Severity.CRITICAL.value
    assert incident.escalation_policy["severity"] == "critical"
    # The critical chain starts at the button press: the duty phone gets its SMS at once.
    assert [(n.step, n.channel) for n in await _notifications(dctx, incident_id)][-2:] == [
        ("notify_duty", "console"),
        ("notify_duty", "sms"),
    ]
    async with dctx.db() as session:
        alert_incidents = (
            await session.scalars(select(Alert.incident_id).where(Alert.household_id == household.id))
        ).all()
        incidents = await session.scalar(
            select(func.count()).select_from(Incident).where(Incident.household_id == household.id)
        )
    assert alert_incidents == [incident_id] * 3 and incidents == 1


async def test_low_alerts_open_no_incident_but_are_kept(dctx: Context) -> None:
    household = await add_household(dctx)
    now = dctx.clock.now()
    async with transaction(dctx.db) as session:
        result = await service.raise_findings(
            session, [finding(household.id, Rule.DEVICE_OFFLINE, at=now, key="pir-1:offline")], now=now
        )
    assert result.opened == [] and len(result.alerts) == 1
    async with transaction(dctx.db) as session:  # the same firing replayed is stored once
        again = await service.raise_findings(
            session, [finding(household.id, Rule.DEVICE_OFFLINE, at=now, key="pir-1:offline")], now=now
        )
    assert again.alerts == []
    async with dctx.db() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.household_id == household.id))).all()
    assert [(a.rule, a.incident_id) for a in alerts] == [("device_offline", None)]


async def test_a_household_without_contacts_is_flagged_on_the_console_when_their_turn_comes(
    dctx: Context,
) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx, contacts=0)
    incident_id = await open_incident(dctx, household.id)
    clock.advance(180)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 2
    last = (await _notifications(dctx, incident_id))[-1]
    assert (last.step, last.channel) == ("call_contacts:unreachable", "console")
    assert "未登记电话号码" in last.body and "no phone number" in last.body


def test_the_shipped_policy_file_is_valid_and_covers_every_severity() -> None:
    policies = load_policies(POLICY_FILE)
    assert set(policies.by_severity) == set(Severity)
    critical = policies.by_severity[Severity.CRITICAL]
    assert [(s.name, s.after_s) for s in critical.steps] == [
        ("notify_duty", 0),
        ("call_supervisor", 60),
        ("call_contacts", 180),
    ]


async def test_after_a_long_outage_missed_repeats_fire_once_not_in_a_burst(dctx: Context) -> None:
    clock = dctx.clock
    assert isinstance(clock, SimClock)
    household = await add_household(dctx, contacts=1)
    incident_id = await open_incident(dctx, household.id)
    clock.advance(3600)  # an hour down: the first pass and eleven repeats' worth of time went by
    fired = await escalation.run_due_escalations(dctx, clock.now())
    # The first pass catches up, each missed step once; the missed repeats do not burst out.
    assert _steps(await _notifications(dctx, incident_id)) == [
        "notify_duty",
        "notify_duty",
        "call_supervisor",
        "call_contacts#1",
    ]
    assert fired == 2
    # The chain then repeats a full interval after the catch-up, and keeps its rhythm.
    incident = await incident_row(dctx, incident_id)
    assert incident.next_escalation_at == clock.now() + timedelta(seconds=300)
    clock.advance(299)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 0
    clock.advance(1)
    assert await escalation.run_due_escalations(dctx, clock.now()) == 1
    assert _steps(await _notifications(dctx, incident_id))[-2:] == ["notify_duty", "notify_duty"]
