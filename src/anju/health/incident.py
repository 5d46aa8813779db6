"""A degraded alarm path as an incident: opened once per episode, paged to the on-call supervisor.

Incidents belong to a household, so these belong to a system household (``anju-system``, inactive:
no engine watches it), created on first use. Severity ``high``, rule ``alarm_path``, no escalation
chain: the on-call supervisor of ``rules/escalation.toml`` (or the first active supervisor with a
phone) gets one SMS through the outbox, which falls back to a voice call as for any SMS. Processes of
one cluster join the active incident, each with its own ``alarm_path_degraded`` entry; when every
process that joined has recorded ``alarm_path_recovered``, the system resolves it (outcome
``device_fault``) and says so by SMS. A person closes it after review.

Nothing can be written while the database is away: the incident is then raised when it answers
again, stating when the degradation began (``recorded_late``); Prometheus pages meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit, vocabulary
from anju.clock import isoformat
from anju.context import Context
from anju.dispatch import escalation
from anju.dispatch.policy import current_policies
from anju.dispatch.service import SYSTEM, active_incident, lock_incident, transition
from anju.domain import ACTIVE_STATES, Channel, IncidentState, Outcome, Severity
from anju.notify.templates import Lang, language_of
from anju.store.db import transaction
from anju.store.models import Household, Incident, IncidentEvent, Notification

SYSTEM_HOUSEHOLD = "anju-system"
SYSTEM_HOUSEHOLD_NAME = "安居系统 · 报警链路 Anju system · alarm path"
ALARM_PATH_RULE = "alarm_path"
DEGRADED, RECOVERED = "alarm_path_degraded", "alarm_path_recovered"
#: The outbox ``step`` of the pages; the recovery message goes to the same people.
PAGE_STEP, RECOVERY_STEP = "alarm_path", "alarm_path_recovered"


@dataclass(frozen=True)
class Failure:
    """One check that failed during an episode: since when, and why (as first seen)."""

    check: str
    since: datetime
    reason: str


def _words(check: str, lang: Lang) -> str:
    return vocabulary.word(vocabulary.CHECKS, check, lang)


class AlarmPathPager:
    """Writes the episode's incident, timeline, audit records and pages (callers retry on errors)."""

    def __init__(self, ctx: Context, *, client_id: str) -> None:
        self.ctx = ctx
        self.client_id = client_id[:128]

    def _local(self, at: datetime) -> str:
        return at.astimezone(self.ctx.settings.tz).strftime("%H:%M:%S")

    async def degraded(
        self,
        failures: list[Failure],
        *,
        started_at: datetime,
        confirmed_at: datetime,
        late: bool,
        now: datetime,
    ) -> int:
        """Open (and page) or join the active alarm-path incident; ``late``: earlier attempts failed."""
        checks = {f.check: {"since": isoformat(f.since), "reason": f.reason[:500]} for f in failures}
        data: dict[str, Any] = {
            "client_id": self.client_id,
            "degraded_since": isoformat(started_at),
            "checks": checks,
            "recorded_late": late,
            "due_at": isoformat(confirmed_at),
        }
        note = "; ".join(f"{f.check}: {f.reason}" for f in failures)[:2000]
        if late:
            note = (
                f"recorded late, at {isoformat(now)}, when the database answered again (due at "
                f"{isoformat(confirmed_at)}); the alarm path has been degraded since "
                f"{isoformat(started_at)}. {note}"
            )
        async with transaction(self.ctx.db) as session:
            await audit.lock_chain(session)  # serialises processes of a cluster: one incident, not two
            incident = await active_incident(session, SYSTEM_HOUSEHOLD)
            opened = incident is None
            if incident is None:
                incident = await self._open(session, now)
            await audit.log_incident_event(
                session, incident.id, at=now, actor=SYSTEM, kind=DEGRADED, note=note, data=data, content=data
            )
            incident.updated_at = now
            if opened:
                await self._page(session, incident, failures, started_at=started_at, now=now)
            escalation.publish_after_commit(session, self.ctx.bus, incident)
            return incident.id

    async def _open(self, session: AsyncSession, now: datetime) -> Incident:
        if await session.get(Household, SYSTEM_HOUSEHOLD) is None:
            session.add(
                Household(
                    id=SYSTEM_HOUSEHOLD,
                    name=SYSTEM_HOUSEHOLD_NAME,
                    notes="Created by Anju for incidents about its own alarm path (docs/operations.md).",
                    active=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
        incident = Incident(
            household_id=SYSTEM_HOUSEHOLD,
            state=IncidentState.OPEN.value,
            severity=Severity.HIGH.value,
            rule=ALARM_PATH_RULE,
            opened_at=now,
            updated_at=now,
            escalation_policy={},
            escalation_step=0,
        )
        session.add(incident)
        await session.flush()
        data = {"rule": ALARM_PATH_RULE, "severity": Severity.HIGH.value}
        await audit.log_incident_event(
            session,
            incident.id,
            at=now,
            actor=SYSTEM,
            kind="opened",
            to_state=IncidentState.OPEN.value,
            data=data,
            action="incident.open",
            content={"household_id": SYSTEM_HOUSEHOLD, **data},
        )
        return incident

    async def _page(
        self,
        session: AsyncSession,
        incident: Incident,
        failures: list[Failure],
        *,
        started_at: datetime,
        now: datetime,
    ) -> None:
        """One SMS to the on-call supervisor; with nobody to page, the timeline says so."""
        policies = current_policies(self.ctx.settings.rules_dir / "escalation.toml")
        recipients, missing = await escalation.resolve(session, {"to": "oncall_supervisor"}, policies)
        for who in recipients:
            lang = language_of(who.language)
            what = (
                "、".join(_words(f.check, lang) for f in failures)
                if lang is Lang.ZH
                else ", ".join(_words(f.check, lang) for f in failures)
            )
            since = self._local(started_at)
            body = (
                f"【安居】报警链路异常（事件#{incident.id}）：{what}，自 {since} 起（{self.client_id}）。"
                "告警可能无法送达，请立即处理。回复1确认接手。"
                if lang is Lang.ZH
                else f"[Anju] Alarm path degraded (incident #{incident.id}): {what}, since {since} "
                f"({self.client_id}). Alarms may not get through; act now. Reply 1 to take it."
            )
            await escalation.add_notification(
                session,
                incident_id=incident.id,
                channel=Channel.SMS,
                recipient=who,
                body=body,
                step=PAGE_STEP,
                now=now,
                actor=SYSTEM,
            )
        if not recipients:
            session.add(
                audit.timeline_entry(
                    incident.id,
                    at=now,
                    actor=SYSTEM,
                    kind="note",
                    note=(
                        f"nobody paged: no phone for {missing or 'the on-call supervisor'}; set [oncall] "
                        "supervisor_phone in rules/escalation.toml or give a supervisor a phone"
                    ),
                )
            )

    async def recovered(
        self,
        incident_id: int,
        *,
        started_at: datetime,
        recovered_at: datetime,
        checks: list[str],
        now: datetime,
    ) -> None:
        """Record this process's recovery; resolve the incident once every process has recovered."""
        duration = (recovered_at - started_at).total_seconds()
        data = {
            "client_id": self.client_id,
            "degraded_since": isoformat(started_at),
            "recovered_at": isoformat(recovered_at),
            "duration_s": round(duration, 1),
            "checks": checks,
        }
        note = (
            f"alarm path healthy again since {isoformat(recovered_at)} after {duration:.0f} s "
            f"({', '.join(checks)})"
        )
        async with transaction(self.ctx.db) as session:
            incident = await lock_incident(session, incident_id)
            await audit.log_incident_event(
                session, incident.id, at=now, actor=SYSTEM, kind=RECOVERED, note=note, data=data, content=data
            )
            incident.updated_at = now
            if IncidentState(incident.state) in ACTIVE_STATES and await _all_recovered(session, incident.id):
                await self._resolve(session, incident, note=note, now=now)
                await self._tell_recovery(session, incident, started_at, recovered_at, now=now)
            escalation.publish_after_commit(session, self.ctx.bus, incident)

    async def _resolve(self, session: AsyncSession, incident: Incident, *, note: str, now: datetime) -> None:
        """Along the closed loop's own edges; an acknowledgement nobody gave is marked as the system's."""
        policies = current_policies(self.ctx.settings.rules_dir / "escalation.toml")
        if incident.state == IncidentState.OPEN.value:
            await transition(
                session,
                incident.id,
                to=IncidentState.ACKNOWLEDGED,
                actor=SYSTEM,
                now=now,
                note="nobody had acknowledged it; acknowledged by the system on recovery",
                bus=self.ctx.bus,
            )
        await transition(
            session,
            incident.id,
            to=IncidentState.RESOLVED,
            actor=SYSTEM,
            now=now,
            note=f"{note}; resolved by the system, to be reviewed and closed by a supervisor",
            outcome=Outcome.DEVICE_FAULT.value,
            policies=policies,
            bus=self.ctx.bus,
        )

    async def _tell_recovery(
        self,
        session: AsyncSession,
        incident: Incident,
        started_at: datetime,
        recovered_at: datetime,
        *,
        now: datetime,
    ) -> None:
        """Whoever was paged hears that it is over (the same phones, in their language)."""
        pages = (
            await session.scalars(
                select(Notification).where(
                    Notification.incident_id == incident.id, Notification.step == PAGE_STEP
                )
            )
        ).all()
        window = f"{self._local(started_at)}–{self._local(recovered_at)}"
        for page in pages:
            lang = language_of(page.language)
            body = (
                f"【安居】报警链路已恢复（事件#{incident.id}）：中断时段 {window}。请复核后关闭事件。"
                if lang is Lang.ZH
                else f"[Anju] Alarm path recovered (incident #{incident.id}): degraded {window}. "
                "Please review and close the incident."
            )
            await escalation.add_notification(
                session,
                incident_id=incident.id,
                channel=Channel.SMS,
                recipient=escalation.Recipient(
                    name=page.recipient_name,
                    kind=page.recipient_kind,
                    address=page.to_address,
                    language=page.language,
                    user_id=page.user_id,
                ),
                body=body,
                step=RECOVERY_STEP,
                now=now,
                actor=SYSTEM,
            )


async def _all_recovered(session: AsyncSession, incident_id: int) -> bool:
    """Every process that reported a degradation on this incident has reported its recovery since."""
    rows = await session.execute(
        select(IncidentEvent.kind, IncidentEvent.data)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind.in_([DEGRADED, RECOVERED]))
        .order_by(IncidentEvent.id)
    )
    last: dict[str, str] = {}
    for kind, data in rows:
        last[str((data or {}).get("client_id", ""))] = kind
    return all(kind == RECOVERED for kind in last.values())
