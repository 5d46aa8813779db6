"""Check-ins in dispatch (issue 13): asked before anyone is paged, on SQLite and PostgreSQL.

The real engine (rules/checkin.toml) raises the check-in at 13:00 after motion until 10:00; the
pipeline runs it as calls and an SMS to the resident, stores the answers as ``checkin`` events and
gives them to the engine, whose own timer pages the operators at 13:10 when nobody answered.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from anju.console.checkin_lane import checkins_in_progress
from anju.dispatch import checkins
from anju.dispatch.sla import sla_report
from anju.domain import CheckinAnswer, IncidentState, Rule, Severity
from anju.engine.model import Finding
from anju.store.db import transaction
from anju.store.models import Alert, AuditRecord, Notification
from tests.dispatch.checkin_helpers import Home, at, checkin_home
from tests.support.dispatch import uid


async def _answer(home: Home, answer: CheckinAnswer, *, channel: str = "voice", when=None) -> None:
    """The resident answers on the first row of ``channel`` the check-in sent."""
    if when is not None:
        home.clock.set(when)
    rows = [r for r in await home.rows() if r.channel == channel]
    async with transaction(home.ctx.db) as session:
        row = await session.get(Notification, rows[0].id)
        assert row is not None
        via = "sms" if channel == "sms" else "keypad"
        done = await checkins.answered_by_phone(session, row, answer, via=via, raw="1", now=home.clock.now())
        assert done is not None


async def test_a_suspicion_calls_the_resident_and_pages_nobody(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        [ci] = await home.checkins()
        assert (ci.state, ci.rule, ci.window_s, ci.attempts) == ("calling", "inactivity", 600, 1)
        assert ci.deadline == at(13, 10)
        rows = await home.rows()
        assert sorted(r.channel for r in rows) == ["sms", "voice"]
        assert all(r.to_address == home.numbers[0] and r.incident_id is None for r in rows)
        voice = next(r for r in rows if r.channel == "voice")
        assert "平安请按1，需要帮助请按9" in voice.body
        assert await home.incidents() == []


async def test_ok_closes_it_is_stored_as_an_event_and_the_engine_raises_nothing(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        await _answer(home, CheckinAnswer.OK, when=at(13, 3))
        await home.tick(at(13, 3, 1))
        [ev] = await home.answer_events()
        assert (ev.device_id, ev.type, ev.event) == ("checkin", "checkin", "ok")
        for t in (at(13, 10), at(13, 30), at(14)):
            await home.tick(t)
        [ci] = await home.checkins()
        assert (ci.state, ci.answer, ci.attempts, ci.unfed) == ("ok", "ok", 1, 0)
        assert await home.incidents() == []
        async with home.ctx.db() as session:
            actions = list(
                await session.scalars(select(AuditRecord.action).where(AuditRecord.entity == "checkin"))
            )
        assert actions[:3] == ["checkin.open", "checkin.attempt", "checkin.answer"]


async def test_help_opens_a_critical_incident_at_once_with_the_attempts_on_its_timeline(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        await _answer(home, CheckinAnswer.HELP, when=at(13, 2))
        await home.tick(at(13, 2, 1))
        [incident] = await home.incidents()
        assert (incident.severity, incident.rule, incident.state) == ("critical", "inactivity", "open")
        [ci] = await home.checkins()
        assert (ci.state, ci.incident_id) == ("help", incident.id)
        kinds = [e.kind for e in await home.timeline(incident.id)]
        assert "checkin_attempt" in kinds and "checkin_answer" in kinds


async def test_unanswered_tries_twice_then_the_mobile_and_the_engine_pages_with_every_attempt(
    db_url: str,
) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        for t in (at(13), at(13, 3, 20), at(13, 6, 40), at(13, 9, 59)):
            await home.tick(t)
        assert await home.incidents() == []
        calls = [r.to_address for r in await home.rows() if r.channel == "voice"]
        assert calls == [home.numbers[0], home.numbers[0], home.numbers[1]]
        await home.tick(at(13, 10))
        [incident] = await home.incidents()
        assert (incident.severity, incident.rule) == ("high", "inactivity")
        [ci] = await home.checkins()
        assert (ci.state, ci.attempts, ci.incident_id) == ("unanswered", 3, incident.id)
        attempts = [e for e in await home.timeline(incident.id) if e.kind == "checkin_attempt"]
        assert [e.data["attempt"] for e in attempts] == [1, 2, 3]
        async with home.ctx.db() as session:
            alert = await session.scalar(select(Alert).where(Alert.incident_id == incident.id))
        assert alert is not None and len(alert.detail["checkin"]["attempts"]) == 3

        # A late answer is recorded and shown, and closes nothing.
        await _answer(home, CheckinAnswer.OK, when=at(13, 15))
        await home.tick(at(13, 15, 1))
        [incident] = await home.incidents()
        assert incident.state == IncidentState.OPEN.value
        late = [e for e in await home.timeline(incident.id) if e.kind == "checkin_answer"]
        assert late and late[-1].data["late"] is True
        [ci] = await home.checkins()
        assert ci.state == "unanswered" and ci.detail["answers"][-1]["late"] is True
        assert [e.event for e in await home.answer_events()] == ["ok"]


async def test_an_sms_reply_answers_it(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        await _answer(home, CheckinAnswer.OK, channel="sms", when=at(13, 5))
        for t in (at(13, 5, 1), at(13, 10), at(13, 20)):
            await home.tick(t)
        [ci] = await home.checkins()
        assert (ci.state, ci.detail["answers"][0]["via"]) == ("ok", "sms")
        assert await home.incidents() == []


async def test_a_second_checkin_while_one_runs_joins_it(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        second = Finding(
            household_id=home.hid,
            rule=Rule.CHECKIN,
            severity=Severity.MEDIUM,
            at=at(13, 1),
            key="checkin:not_returned:x",
            detail={"rule": "not_returned", "window_s": 600},
        )
        async with transaction(home.ctx.db) as session:
            assert await checkins.open_checkins(session, [second], now=at(13, 1)) == []
        [ci] = await home.checkins()
        assert ci.detail["joined"][0]["key"] == "checkin:not_returned:x"
        assert len(await home.rows()) == 2  # no second call


async def test_a_restart_in_the_middle_keeps_the_calls_and_the_deadline(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        await home.pipe.save_snapshots(everything=True)
        home.pipe = home.new_pipeline()  # the process restarts: a new engine from the snapshot
        await home.pipe.configure_from_db()
        await home.pipe.restore()
        await home.tick(at(13, 3, 20))
        [ci] = await home.checkins()
        assert (ci.state, ci.attempts) == ("calling", 2)
        await home.tick(at(13, 6, 40))
        await home.tick(at(13, 10))
        [incident] = await home.incidents()
        [ci] = await home.checkins()
        assert (ci.state, ci.attempts, ci.incident_id) == ("unanswered", 3, incident.id)


async def test_a_sign_of_life_closes_it_quietly(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        await home.motion(at(13, 2))
        for t in (at(13, 3, 20), at(13, 10), at(13, 30)):
            await home.tick(t)
        [ci] = await home.checkins()
        assert (ci.state, ci.attempts) == ("sign_of_life", 1)
        assert await home.incidents() == []


async def test_an_opted_out_home_goes_straight_to_the_operators(db_url: str) -> None:
    async with checkin_home(db_url, uid("h"), overrides={"checkin": {"opt_out": True}}) as home:
        await home.tick(at(13))
        assert await home.checkins() == []
        [incident] = await home.incidents()
        assert (incident.severity, incident.rule) == ("high", "inactivity")


async def test_nobody_to_call_pages_at_once(db_url: str) -> None:
    async with checkin_home(db_url, uid("h"), phone=None, mobile=None) as home:
        await home.tick(at(13))
        await home.tick(at(13) + timedelta(seconds=1))
        [ci] = await home.checkins()
        assert ci.state == "unanswered" and ci.detail["answers"][0]["via"] == "no_phone"
        [incident] = await home.incidents()
        assert incident.severity == "high"


async def test_the_lane_shows_it_while_calling_and_the_sla_report_counts_it_apart(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        lane = await checkins_in_progress(home.ctx)
        assert [(r.household_id, r.state, r.attempts) for r in lane] == [(home.hid, "calling", 1)]
        for t in (at(13, 3, 20), at(13, 6, 40), at(13, 10)):
            await home.tick(t)
        assert await checkins_in_progress(home.ctx) == []
        async with home.ctx.db() as session:
            report = await sla_report(session, since=at(0), until=at(23), now=at(14))
        assert report["checkins"] == {
            "opened": 1,
            "answered_ok": 0,
            "help": 0,
            "unanswered": 1,
            "sign_of_life": 0,
            "in_progress": 0,
            "late_answers": 0,
        }
        assert report["incidents"] == 1  # the page after it went unanswered; the check-in is not one


async def test_an_sms_reply_with_hostile_text_is_stored_escaped_and_still_answers(db_url: str) -> None:
    async with checkin_home(db_url, uid("h")) as home:
        await home.tick(at(13))
        home.clock.set(at(13, 5))
        [row] = [r for r in await home.rows() if r.channel == "sms"][:1]
        async with transaction(home.ctx.db) as session:
            sms = await session.get(Notification, row.id)
            assert sms is not None
            raw = "1\x00\ud800" + "好" * 200
            done = await checkins.answered_by_phone(
                session, sms, CheckinAnswer.OK, via="sms", raw=raw, now=home.clock.now()
            )
            assert done is not None
        [ci] = await home.checkins()
        stored = ci.detail["answers"][0]["raw"]
        assert ci.state == "ok" and "\x00" not in stored and "\ud800" not in stored and len(stored) <= 80
