"""From the broker to the engine: events, dead letters, unknown devices, canaries, logins, snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from anju.store.models.base import Base, BigId


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


class IngestCanary(Base):
    """The last canary each service process published to itself through the broker and stored.

    Written in an ingest batch's transaction: a fresh ``stored_at`` proves that the whole path —
    broker, subscription, decoding and the database commit — carries messages right now.
    """

    __tablename__ = "ingest_canaries"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sent_at: Mapped[datetime]
    stored_at: Mapped[datetime]


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


class EngineSnapshot(Base):
    """The rule engine's state for one household, so a restart neither forgets nor fires twice."""

    __tablename__ = "engine_snapshots"

    household_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[datetime]
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
