"""The homes watched over: households, their residents, contacts to call and devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from anju.store.models.base import Base


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
    #: A second number (a mobile), called last by a check-in (migration 0006).
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
