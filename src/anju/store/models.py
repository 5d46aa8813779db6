"""Every table of Anju (SQLAlchemy 2, ``Mapped[]`` only). Times are aware UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from anju.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    #: The operator's desk phone: a bridged call to a resident rings it first.
    desk_phone: Mapped[str | None] = mapped_column(String(32))
    #: For responders: the contact record they act as (incidents dispatched to them).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped by a password reset or a role change; tokens issued under an older version are refused.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]


class Household(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(256), default="")
    area: Mapped[str] = mapped_column(String(128), default="", index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Who holds a key and how to get in: shown to staff on demand, each view audited.
    key_holder: Mapped[str] = mapped_column(String(256), default="")
    access_notes: Mapped[str] = mapped_column(Text, default="")
    #: Renderings of the text fields in other languages: ``{"en": {"name": "...", ...}}``.
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Per-household rule parameters that override the rule pack (validated by the engine).
    rule_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: True while a PIR or door sensor of the home is offline: detection is weaker.
    monitoring_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The phone provider for this home's SMS and calls (a name in the provider table); None: by number.
    phone_provider: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    residents: Mapped[list[Resident]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Resident.id"
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Contact.priority"
    )
    devices: Mapped[list[Device]] = relationship(back_populates="household", order_by="Device.id")

    @property
    def has_access_notes(self) -> bool:
        """Whether a key holder or access notes are on file (their text is read on demand, audited)."""
        return bool(self.key_holder or self.access_notes)


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    birth_year: Mapped[int | None]
    phone: Mapped[str | None] = mapped_column(String(32))
    #: A second number (a mobile), called last by a check-in (migration 0007).
    mobile: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: A vocabulary word (``independent``, ``walking_aid``, ``wheelchair``, ``bedridden``) or "".
    mobility: Mapped[str] = mapped_column(String(32), default="")
    #: A vocabulary word (``normal``, ``hard_of_hearing``, ``deaf``) or "".
    hearing: Mapped[str] = mapped_column(String(32), default="")
    dialect: Mapped[str] = mapped_column(String(64), default="")
    medical_notes: Mapped[str] = mapped_column(Text, default="")
    medication: Mapped[str] = mapped_column(Text, default="")
    preferred_hospital: Mapped[str] = mapped_column(String(128), default="")
    #: Renderings of the text fields in other languages: ``{"en": {"name": "...", ...}}``.
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict)

    household: Mapped[Household] = relationship(back_populates="residents")


class Contact(Base):
    """Someone to call for a household: grid worker, family, neighbour; ordered by ``priority``."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    relation: Mapped[str] = mapped_column(String(32), default="family")
    phone: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    #: The phone provider for this contact, before the household's; None: the household's, or by number.
    phone_provider: Mapped[str | None] = mapped_column(String(32))
    #: Renderings of the text fields in other languages: ``{"en": {"name": "..."}}``.
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict)

    household: Mapped[Household] = relationship(back_populates="contacts")


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(64), default="")
    protocol: Mapped[str] = mapped_column(String(16))
    #: Name of the profile in sensors/ (e.g. ``anju-pir``, ``aqara-door``).
    profile: Mapped[str] = mapped_column(String(64))
    #: Zigbee2MQTT friendly name (the topic segment); null for kit devices, which use ``id``.
    external_name: Mapped[str | None] = mapped_column(String(128), unique=True)
    heartbeat_s: Mapped[int | None]
    last_seen_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    battery: Mapped[int | None]
    rssi: Mapped[int | None]
    firmware: Mapped[str | None] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    household: Mapped[Household] = relationship(back_populates="devices")


class SensorEvent(Base):
    """One stored kit message (events and heartbeats); a redelivery is stored once."""

    __tablename__ = "sensor_events"
    __table_args__ = (
        UniqueConstraint("device_id", "seq", "ts", name="uq_sensor_events_device_seq_ts"),
        Index("ix_sensor_events_household_time", "household_id", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))
    #: Null for protocols without a sequence number (Zigbee2MQTT).
    seq: Mapped[int | None] = mapped_column(BigInteger)
    #: The device's clock.
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    #: The time rules use: ``ts``, or ``received_at`` when the device clock was off by > 5 min.
    event_time: Mapped[datetime]
    clock_skewed: Mapped[bool] = mapped_column(Boolean, default=False)
    battery: Mapped[int | None]
    rssi: Mapped[int | None]


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(Text)
    payload_head: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(128))


class IngestCanary(Base):
    """The last canary each service process published to itself through the broker and stored.

    Written in an ingest batch's transaction: a fresh ``stored_at`` proves that the whole path —
    broker, subscription, decoding and the database commit — carries messages right now.
    """

    __tablename__ = "ingest_canaries"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sent_at: Mapped[datetime]
    stored_at: Mapped[datetime]


class RevokedToken(Base):
    """A bearer token revoked by logout before it expired (kept until then, then purged)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime]


class UnknownDevice(Base):
    """A device heard on the broker but not registered: the installers' to-do list."""

    __tablename__ = "unknown_devices"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    message_count: Mapped[int] = mapped_column(Integer, default=1)
    last_topic: Mapped[str] = mapped_column(Text)
    last_payload_head: Mapped[bytes] = mapped_column(LargeBinary)


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


class Notification(Base):
    """The outbox: written with the step that caused it, delivered by the notify worker."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient_name: Mapped[str] = mapped_column(String(128), default="")
    recipient_kind: Mapped[str] = mapped_column(String(32), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(256))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Which escalation step (or fallback) created it.
    step: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditRecord(Base):
    """Append-only, hash-chained: each ``hash`` covers the content and the previous ``hash``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class EngineSnapshot(Base):
    """The rule engine's state for one household, so a restart neither forgets nor fires twice."""

    __tablename__ = "engine_snapshots"

    household_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[datetime]
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class BrokerCredential(Base):
    """An MQTT login: a home's gateway (or one device) that may publish only its own devices, or Anju's own.

    ``password_hash`` is Mosquitto's ``$7$`` PBKDF2-SHA512 string; the PostgreSQL views ``mqtt_user``
    and ``mqtt_acl`` (migration 0003) present the same hash and the topics to EMQX.
    """

    __tablename__ = "broker_credentials"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``gateway`` (publishes its devices' topics) or ``service`` (Anju: reads them).
    role: Mapped[str] = mapped_column(String(16))
    household_id: Mapped[str | None] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    #: Set for a device that logs in itself: only this device's topics, not the whole home's.
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime]


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
