"""Check-ins: a ``checkin`` finding asks the resident before anyone is paged (CONTRACT.md section 6).

A check-in is ``calling`` from its finding until one of:

- ``ok``: the resident pressed 1, said so, or replied 1 by SMS; audited, and stored as a
  ``checkin ok`` event the pipeline gives the engine, whose timer then raises nothing;
- ``help``: stored as ``checkin help``; the engine raises the rule's finding as critical, which
  opens (or joins) an operator incident at once;
- ``sign_of_life``: a sensor saw the resident after the call was placed (the engine too);
- ``unanswered``: the window ended; the engine's own timer raises the rule's ``high`` alert, and the
  incident it opens gets every attempt and answer on its timeline (``attach``).

An answer after the window (a late answer) is recorded, shown on the incident and given to the
engine, and closes nothing by itself. A second check-in finding for a home while one is calling
joins the running one. Everything lives in the ``checkins`` row, so a restart resumes the schedule.
Functions take the caller's session and never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.bus import EventBus
from anju.dispatch.changes import SYSTEM
from anju.dispatch.checkin_calls import callee_of, place_attempt
from anju.domain import CHECKIN_TYPE, Channel, CheckinAnswer, NotificationStatus, Rule
from anju.engine.model import Finding
from anju.kinds import SIGNS_OF_LIFE
from anju.notify.checkin_script import checkin_of_row as checkin_of_row  # the webhooks' entry
from anju.store.db import after_commit
from anju.store.models import Alert, Checkin, Notification, SensorEvent
from anju.store.safe import storable

log = logging.getLogger("anju.dispatch")

#: Used when a finding does not say (CONTRACT.md: 10 min by default, per household).
DEFAULT_WINDOW_S = 600


class CheckinState(StrEnum):
    CALLING = "calling"
    OK = "ok"
    HELP = "help"
    UNANSWERED = "unanswered"
    SIGN_OF_LIFE = "sign_of_life"


@dataclass(frozen=True)
class Answer:
    """An answer for the engine: stored as a ``type=checkin`` event in the same transaction."""

    household_id: str
    answer: CheckinAnswer
    at: datetime


def is_checkin(finding: Finding) -> bool:
    return finding.rule is Rule.CHECKIN


def _publish(session: AsyncSession, bus: EventBus | None, checkin: Checkin) -> None:
    """Tell the console's lane (and wake the outbox) once committed."""
    if bus is None:
        return
    msg = {"type": "checkin", "id": checkin.id, "household_id": checkin.household_id, "state": checkin.state}
    after_commit(session, lambda: bus.publish(msg))


async def _audit(
    session: AsyncSession, checkin: Checkin, action: str, now: datetime, actor: str = SYSTEM, **extra: Any
) -> None:
    content = {"household_id": checkin.household_id, "rule": checkin.rule, "state": checkin.state, **extra}
    await audit.record(
        session, at=now, actor=actor, action=action, entity="checkin", entity_id=checkin.id, content=content
    )


async def open_checkins(
    session: AsyncSession, findings: Iterable[Finding], *, now: datetime, bus: EventBus | None = None
) -> list[Checkin]:
    """Open a check-in per ``checkin`` finding (or join the home's running one); place the first attempt."""
    opened: list[Checkin] = []
    for f in findings:
        dup = await session.scalar(
            select(Checkin.id).where(Checkin.household_id == f.household_id, Checkin.finding_key == f.key)
        )
        if dup is not None:
            continue  # a replayed finding
        running = await session.scalar(
            select(Checkin).where(
                Checkin.household_id == f.household_id, Checkin.state == CheckinState.CALLING.value
            )
        )
        if running is not None:
            joined = [
                *running.detail.get("joined", []),
                {"key": f.key, "rule": str(f.detail.get("rule", "")), "at": f.at.isoformat()},
            ]
            running.detail = {**running.detail, "joined": joined}
            running.updated_at = now
            await _audit(session, running, "checkin.join", now, finding_key=f.key)
            continue
        window = int(f.detail.get("window_s") or DEFAULT_WINDOW_S)
        checkin = Checkin(
            household_id=f.household_id,
            rule=str(f.detail.get("rule") or f.rule.value),
            suspicion_key=str(f.detail.get("suspicion_key") or f.key),
            finding_key=f.key,
            asked_at=f.at,
            window_s=window,
            deadline=f.at + timedelta(seconds=window),
            state=CheckinState.CALLING.value,
            attempts=0,
            next_attempt_at=None,
            unfed=0,
            detail={"evidence": f.detail, "attempts": [], "answers": []},
            opened_at=now,
            updated_at=now,
        )
        session.add(checkin)
        await session.flush()
        await _audit(session, checkin, "checkin.open", now, finding_key=f.key, window_s=window)
        await _step(session, checkin, now=now)
        _publish(session, bus, checkin)
        opened.append(checkin)
    await session.flush()
    return opened


async def _step(session: AsyncSession, checkin: Checkin, *, now: datetime) -> None:
    """Move a calling check-in on: closed by a sign of life or the deadline, else its next attempt."""
    if await _sign_of_life(session, checkin):
        _close(checkin, CheckinState.SIGN_OF_LIFE, now)
        await _audit(session, checkin, "checkin.sign_of_life", now)
        return
    if now >= checkin.deadline:
        _close(checkin, CheckinState.UNANSWERED, now)
        await _audit(session, checkin, "checkin.unanswered", now, attempts=checkin.attempts)
        return
    callee = await callee_of(session, checkin.household_id)
    if callee is None or not callee.plan():
        # Nobody to call: the engine is told at once, so the operators are paged without waiting.
        _close(checkin, CheckinState.UNANSWERED, now)
        _note_answer(checkin, CheckinAnswer.NO_ANSWER, now, via="no_phone", raw="", late=False)
        await _audit(session, checkin, "checkin.unanswered", now, reason="no phone on file")
        return
    rows = place_attempt(session, checkin, callee, now=now)
    if checkin.next_attempt_at is None:
        checkin.next_attempt_at = checkin.deadline  # attempts done: the deadline closes it
    if rows:
        await session.flush()
        ids = [r.id for r in rows]
        await _audit(session, checkin, "checkin.attempt", now, attempt=checkin.attempts, notifications=ids)


def _close(checkin: Checkin, state: CheckinState, now: datetime) -> None:
    checkin.state = state.value
    checkin.closed_at = now
    checkin.next_attempt_at = None
    checkin.updated_at = now


async def _sign_of_life(session: AsyncSession, checkin: Checkin) -> bool:
    seen = await session.scalar(
        select(SensorEvent.id)
        .where(
            SensorEvent.household_id == checkin.household_id,
            SensorEvent.event_time > checkin.asked_at,
            SensorEvent.event.in_([e.value for e in SIGNS_OF_LIFE]),
        )
        .limit(1)
    )
    return seen is not None


async def anything_due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a check-in has an attempt or deadline due, or an answer for the engine (a cheap read)."""
    due = select(Checkin.id).where(
        Checkin.state == CheckinState.CALLING.value, Checkin.next_attempt_at <= now
    )
    fed = select(Checkin.id).where(Checkin.unfed > 0)
    return (await session.scalar(due.limit(1))) is not None or (
        await session.scalar(fed.limit(1))
    ) is not None


async def run_due(
    session: AsyncSession, *, now: datetime, bus: EventBus | None = None, limit: int = 100
) -> int:
    """Every calling check-in whose next attempt or deadline has come; returns how many moved."""
    ids = list(
        await session.scalars(
            select(Checkin.id)
            .where(Checkin.state == CheckinState.CALLING.value, Checkin.next_attempt_at <= now)
            .order_by(Checkin.next_attempt_at)
            .limit(limit)
        )
    )
    moved = 0
    for cid in ids:
        checkin = await _locked(session, cid, now)
        if checkin is None or checkin.state != CheckinState.CALLING.value:
            continue
        if checkin.next_attempt_at is None or checkin.next_attempt_at > now:
            continue  # another process moved it first
        await _step(session, checkin, now=now)
        _publish(session, bus, checkin)
        moved += 1
    return moved


async def _locked(session: AsyncSession, checkin_id: int, now: datetime) -> Checkin | None:
    """The row, locked by a write (audit chain first: the lock order of ``dispatch.changes``)."""
    await audit.lock_chain(session)
    result = await session.execute(update(Checkin).where(Checkin.id == checkin_id).values(updated_at=now))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(Checkin, checkin_id, populate_existing=True)


def _note_answer(
    checkin: Checkin, answer: CheckinAnswer, now: datetime, *, via: str, raw: str, late: bool
) -> dict[str, Any]:
    entry = {
        "answer": answer.value,
        "at": now.isoformat(),
        "via": via,
        "raw": storable(raw, limit=80),
        "late": late,
        "fed": False,
    }
    checkin.detail = {**checkin.detail, "answers": [*checkin.detail.get("answers", []), entry]}
    checkin.unfed += 1
    return entry


async def record_answer(
    session: AsyncSession,
    checkin_id: int,
    answer: CheckinAnswer,
    *,
    via: str,
    raw: str,
    now: datetime,
    actor: str,
    bus: EventBus | None = None,
) -> Checkin | None:
    """The resident's answer (a key, a word, an SMS); late ones are kept and close nothing."""
    checkin = await _locked(session, checkin_id, now)
    if checkin is None:
        return None
    late = checkin.state != CheckinState.CALLING.value
    entry = _note_answer(checkin, answer, now, via=via, raw=raw, late=late)
    if not late:
        _close(
            checkin,
            CheckinState.UNANSWERED if answer is CheckinAnswer.NO_ANSWER else CheckinState(answer.value),
            now,
        )
        checkin.answer, checkin.answered_at = answer.value, now
    action = "checkin.late_answer" if late else "checkin.answer"
    await _audit(session, checkin, action, now, actor=actor, answer=answer.value, via=via)
    if late and checkin.incident_id is not None:
        session.add(_answer_entry(checkin.incident_id, entry, now))
    _publish(session, bus, checkin)
    await session.flush()
    return checkin


async def answered_by_phone(
    session: AsyncSession,
    row: Notification,
    answer: CheckinAnswer,
    *,
    via: str,
    raw: str,
    now: datetime,
    bus: EventBus | None = None,
) -> Checkin | None:
    """An answer that came in on ``row``'s call or SMS: the row is answered, the check-in told."""
    checkin_id = await checkin_of_row(session, row)
    if checkin_id is None:
        return None
    checkin = await record_answer(
        session, checkin_id, answer, via=via, raw=raw, now=now, actor="resident", bus=bus
    )
    if row.channel == Channel.VOICE.value:
        row.status = NotificationStatus.ANSWERED.value
    row.next_attempt_at = None
    return checkin


async def take_answers(session: AsyncSession, household_ids: Sequence[str] | None = None) -> list[Answer]:
    """Answers not yet given to the engine, each now stored as a ``type=checkin`` event."""
    query = select(Checkin).where(Checkin.unfed > 0).order_by(Checkin.id).limit(500)
    if household_ids is not None:
        query = query.where(Checkin.household_id.in_(list(household_ids)))
    out: list[Answer] = []
    for checkin in (await session.scalars(query)).all():
        answers = [dict(a) for a in checkin.detail.get("answers", [])]
        for i, a in enumerate(answers):
            if a.get("fed"):
                continue
            at = datetime.fromisoformat(a["at"])
            # seq: unique per answer of this check-in, so (device_id, seq, ts) never collides.
            session.add(
                SensorEvent(
                    device_id=CHECKIN_TYPE,
                    household_id=checkin.household_id,
                    type=CHECKIN_TYPE,
                    event=a["answer"],
                    seq=checkin.id * 1000 + i,
                    ts=at,
                    received_at=at,
                    event_time=at,
                    clock_skewed=False,
                )
            )
            a["fed"] = True
            out.append(Answer(checkin.household_id, CheckinAnswer(a["answer"]), at))
        checkin.detail = {**checkin.detail, "answers": answers}
        checkin.unfed = 0
    await session.flush()
    return out


async def attach(session: AsyncSession, alerts: Sequence[Alert], *, now: datetime) -> None:
    """An alert the engine raised after a check-in: its incident shows every attempt and answer."""
    for alert in alerts:
        said = (alert.detail or {}).get("checkin")
        if not isinstance(said, dict) or alert.incident_id is None:
            continue
        key = alert.key.removeprefix("help:")
        checkin = await session.scalar(
            select(Checkin)
            .where(
                Checkin.household_id == alert.household_id,
                Checkin.rule == alert.rule,
                Checkin.suspicion_key == key,
            )
            .order_by(Checkin.id.desc())
            .limit(1)
        )
        if checkin is None or checkin.incident_id is not None:
            continue
        checkin.incident_id = alert.incident_id
        if checkin.state == CheckinState.CALLING.value:
            _close(
                checkin, CheckinState.HELP if said.get("answer") == "help" else CheckinState.UNANSWERED, now
            )
        attempts = list(checkin.detail.get("attempts", []))
        alert.detail = {**alert.detail, "checkin": {**said, "checkin_id": checkin.id, "attempts": attempts}}
        for a in attempts:
            note = f"check-in attempt {a['attempt']}: {'+'.join(a['channels'])} to the resident's {a['to']}"
            session.add(
                audit.timeline_entry(
                    alert.incident_id,
                    at=now,
                    actor=SYSTEM,
                    kind="checkin_attempt",
                    note=note,
                    data={"checkin_id": checkin.id, **a},
                )
            )
        for entry in checkin.detail.get("answers", []):
            session.add(_answer_entry(alert.incident_id, entry, now))
        await _audit(session, checkin, "checkin.attach", now, incident_id=alert.incident_id)
    await session.flush()


def _answer_entry(incident_id: int, entry: dict[str, Any], now: datetime) -> Any:
    late = " (late: after the window)" if entry.get("late") else ""
    note = f"resident answered {entry['answer']!r} by {entry['via']} at {entry['at']}{late}"
    return audit.timeline_entry(
        incident_id, at=now, actor="resident", kind="checkin_answer", note=note, data=dict(entry)
    )
