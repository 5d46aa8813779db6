"""What operators handle: incidents, the alerts that joined them, their timeline, check-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from anju.store.models.base import Base, BigId


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_household_state", "household_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    #: The rule of the alert that opened it (more may join; see alerts).
    rule: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responder_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    responder_name: Mapped[str | None] = mapped_column(String(128))
    responder_kind: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    #: The escalation policy as it was when the incident opened.
    escalation_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    follow_up_due_at: Mapped[datetime | None]
    follow_up_done_at: Mapped[datetime | None]
    follow_up_waived_reason: Mapped[str | None] = mapped_column(Text)
    #: Optimistic lock: every change bumps it, so two racing operators cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}

    alerts: Mapped[list[Alert]] = relationship(back_populates="incident", order_by="Alert.id")
    timeline: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id"
    )


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("household_id", "rule", "key", name="uq_alerts_household_rule_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    #: Event time at which the rule fired.
    at: Mapped[datetime]
    #: Wall-clock time at which Anju raised it.
    raised_at: Mapped[datetime]
    device_id: Mapped[str | None] = mapped_column(String(64))
    #: Identifies the firing, so a replayed or restarted engine cannot raise it twice.
    key: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    incident: Mapped[Incident | None] = relationship(back_populates="alerts")


class IncidentEvent(Base):
    """The incident's append-only timeline: transitions, alerts joined, notes, escalations, messages."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class Checkin(Base):
    """A check-in: the resident is asked (calls, an SMS) before anyone is paged (dispatch.checkins).

    One row per ``checkin`` finding; its schedule and answers live here, so a restart resumes it.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("household_id", "finding_key", name="uq_checkins_household_finding_key"),
        Index("ix_checkins_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    #: The rule behind the suspicion (``inactivity``, ``not_returned`` ...) and its finding's key.
    rule: Mapped[str] = mapped_column(String(32))
    suspicion_key: Mapped[str] = mapped_column(String(128))
    #: The ``checkin`` finding's key: a replayed finding opens nothing twice.
    finding_key: Mapped[str] = mapped_column(String(128))
    #: Event time the engine placed the call at, and when the resident's window closes.
    asked_at: Mapped[datetime]
    window_s: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[datetime]
    #: ``calling`` until ``ok``, ``help``, ``unanswered`` or ``sign_of_life``.
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    #: Answers recorded but not yet stored as ``checkin`` events and given to the engine.
    unfed: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: The operator incident the unanswered (or help) alert opened or joined.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    #: ``attempts`` (calls and SMS placed), ``answers`` (with ``late``/``fed``), ``joined``, ``evidence``.
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
