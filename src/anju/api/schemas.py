"""Request and response bodies of the API: separate Create, Read and Update schemas per resource."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from anju.domain import DeviceKind, Protocol, Role
from anju.notify.providers import phone_provider_names

T = TypeVar("T")

#: The contract's id charset (CONTRACT.md section 1), for devices and households alike.
ID_REGEX = r"^[A-Za-z0-9_.\-]{1,64}$"
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _phone(value: str) -> str:
    """Normalise to E.164, which SMS and voice providers require."""
    compact = _PHONE_SEPARATORS.sub("", value)
    if not _E164.fullmatch(compact):
        raise ValueError(
            f"phone {value!r} must be in international format, e.g. +8613800138000 (请填写国际格式号码)"
        )
    return compact


def _timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from err
    return value


def _phone_provider(value: str | None) -> str | None:
    """A registered phone provider's name, or None: by number (``ANJU_NOTIFY_ROUTES``)."""
    names = phone_provider_names()
    if value is not None and value not in names:
        raise ValueError(f"unknown phone provider {value!r}; one of: {', '.join(names)} (or null: by number)")
    return value


Phone = Annotated[str, AfterValidator(_phone)]
#: Which provider carries a household's or contact's SMS and calls; null: chosen by the number.
PhoneProviderName = Annotated[str | None, AfterValidator(_phone_provider)]
TimeZone = Annotated[str | None, AfterValidator(_timezone)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", max_length=8)]
EntityId = Annotated[str, StringConstraints(pattern=ID_REGEX)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


def _unstorable_at(value: object, path: str) -> str | None:
    """Where in a request body a string (or key) holds NUL or a lone surrogate, if anywhere."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value or not _utf8(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _unstorable_at(str(key), path) is not None:
                return f"{path or 'body'} (a key)"  # the key itself is not shown: it is the bad text
            if (where := _unstorable_at(item, f"{path}.{key}" if path else str(key))) is not None:
                return where
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (where := _unstorable_at(item, f"{path}[{i}]")) is not None:
                return where
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """Refuse NUL and lone surrogates in any text of a body alike on SQLite and PostgreSQL."""
        if isinstance(data, dict | list) and (where := _unstorable_at(data, "")) is not None:
            raise ValueError(
                f"{where}: text holds NUL or a lone surrogate (\\u0000, \\ud800), which cannot be "
                "stored (文本含有无法保存的字符)"
            )
        return data


class PageOf(Schema, Generic[T]):
    """One page of a listing; ``total`` counts every match, not just this page."""

    items: list[T]
    total: int
    limit: int
    offset: int


# --- auth -------------------------------------------------------------------------------------


class TokenRead(Schema):
    access_token: str
    token_type: str = "bearer"


class UserRead(Schema):
    id: int
    username: str
    role: Role
    display_name: str
    language: str


# --- households -------------------------------------------------------------------------------


def _translations(value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Renderings per language code, each a few short texts: ``{"en": {"name": "Wang Guiying"}}``."""
    for lang, texts in value.items():
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", lang):
            raise ValueError(f"translations: {lang!r} is not a language code such as en or zh-CN")
        for name, text in texts.items():
            if not re.fullmatch(r"[a-z_]{1,32}", name) or len(text) > 4000:
                raise ValueError(
                    f"translations.{lang}: {name!r} must name a field and hold ≤ 4000 characters"
                )
    return value


Translations = Annotated[dict[str, dict[str, str]], AfterValidator(_translations)]
Mobility = Literal["", "independent", "walking_aid", "wheelchair", "bedridden"]
Hearing = Literal["", "normal", "hard_of_hearing", "deaf"]


class ResidentIn(Schema):
    name: Name
    birth_year: int | None = Field(default=None, ge=1890, le=2100)
    phone: Phone | None = None
    language: Language = "zh-CN"
    notes: str = Field(default="", max_length=4000)
    mobility: Mobility = ""
    hearing: Hearing = ""
    dialect: str = Field(default="", max_length=64)
    medical_notes: str = Field(default="", max_length=4000)
    medication: str = Field(default="", max_length=4000)
    preferred_hospital: str = Field(default="", max_length=128)
    #: The text fields in other languages (e.g. a pinyin name for the English console).
    translations: Translations = Field(default_factory=dict, max_length=8)


class ResidentRead(Schema):
    id: int
    name: str
    birth_year: int | None
    phone: str | None
    language: str
    notes: str
    mobility: str
    hearing: str
    dialect: str
    medical_notes: str
    medication: str
    preferred_hospital: str
    translations: dict[str, Any]


class ContactIn(Schema):
    name: Name
    phone: Phone
    relation: str = Field(default="family", min_length=1, max_length=32)
    language: Language = "zh-CN"
    #: Lower is called first.
    priority: int = Field(default=0, ge=0, le=1000)
    translations: Translations = Field(default_factory=dict, max_length=8)
    phone_provider: PhoneProviderName = None


class ContactRead(Schema):
    id: int
    name: str
    relation: str
    phone: str
    language: str
    priority: int
    translations: dict[str, Any]
    phone_provider: str | None = None


class HouseholdCreate(Schema):
    id: EntityId
    name: Name
    address: str = Field(default="", max_length=256)
    area: str = Field(default="", max_length=128)
    timezone: TimeZone = None
    notes: str = Field(default="", max_length=4000)
    #: Who holds a key and how to get in; read back only through ``GET .../access`` (audited).
    key_holder: str = Field(default="", max_length=256)
    access_notes: str = Field(default="", max_length=4000)
    translations: Translations = Field(default_factory=dict, max_length=8)
    rule_overrides: dict[str, Any] = Field(default_factory=dict)
    residents: list[ResidentIn] = Field(default_factory=list, max_length=20)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)
    phone_provider: PhoneProviderName = None


class HouseholdUpdate(Schema):
    """Only the fields sent change; ``residents`` and ``contacts`` replace the whole list."""

    name: Name | None = None
    address: str | None = Field(default=None, max_length=256)
    area: str | None = Field(default=None, max_length=128)
    timezone: TimeZone = None
    notes: str | None = Field(default=None, max_length=4000)
    key_holder: str | None = Field(default=None, max_length=256)
    access_notes: str | None = Field(default=None, max_length=4000)
    translations: Translations | None = Field(default=None, max_length=8)
    rule_overrides: dict[str, Any] | None = None
    residents: list[ResidentIn] | None = Field(default=None, max_length=20)
    contacts: list[ContactIn] | None = Field(default=None, max_length=20)
    active: bool | None = None
    phone_provider: PhoneProviderName = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> HouseholdUpdate:
        # ``timezone: null`` means "use the service's zone", ``phone_provider: null`` "by number";
        # every other field needs a value.
        nullable = ("timezone", "phone_provider")
        nulls = sorted(
            name for name in self.model_fields_set if name not in nullable and getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(nulls)}")
        return self


class HouseholdRead(Schema):
    id: str
    name: str
    address: str
    area: str
    timezone: str | None
    notes: str
    translations: dict[str, Any]
    #: Whether key holder or access notes are on file (their text: ``GET .../access``, audited).
    has_access_notes: bool
    rule_overrides: dict[str, Any]
    #: True while a PIR or door sensor of the home is offline: detection is weaker.
    monitoring_degraded: bool
    active: bool
    phone_provider: str | None = None
    created_at: datetime
    updated_at: datetime
    residents: list[ResidentRead]
    contacts: list[ContactRead]


# --- devices ----------------------------------------------------------------------------------


class DeviceCreate(Schema):
    id: EntityId
    household_id: str = Field(min_length=1, max_length=64)
    type: DeviceKind
    protocol: Protocol = Protocol.ANJU_V1
    #: A profile in sensors/ (e.g. ``anju-pir``); defaults to the protocol's profile for the type.
    profile: str | None = Field(default=None, min_length=1, max_length=64)
    location: str = Field(default="", max_length=64)
    #: Zigbee2MQTT friendly name (the topic segment); required for zigbee2mqtt devices.
    external_name: str | None = Field(default=None, min_length=1, max_length=128)
    #: Overrides the profile's heartbeat interval; null keeps the profile's.
    heartbeat_s: int | None = Field(default=None, ge=10, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _external_name_matches_protocol(self) -> DeviceCreate:
        if self.protocol is Protocol.ZIGBEE2MQTT and not self.external_name:
            raise ValueError("a zigbee2mqtt device needs external_name (its friendly name)")
        if self.external_name is not None and (
            "/" in self.external_name or "#" in self.external_name or "+" in self.external_name
        ):
            raise ValueError("external_name cannot contain '/', '+' or '#' (it is an MQTT topic segment)")
        return self


class DeviceRead(Schema):
    id: str
    household_id: str
    type: str
    location: str
    protocol: str
    profile: str
    external_name: str | None
    heartbeat_s: int | None
    last_seen_at: datetime | None
    last_heartbeat_at: datetime | None
    battery: int | None
    rssi: int | None
    firmware: str | None
    online: bool
    created_at: datetime


# --- events and ingest ------------------------------------------------------------------------


class SensorEventRead(Schema):
    id: int
    device_id: str
    household_id: str
    type: str
    event: str
    seq: int | None
    ts: datetime
    received_at: datetime
    event_time: datetime
    clock_skewed: bool
    battery: int | None
    rssi: int | None


class EventPage(Schema):
    """Events in the requested order; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[SensorEventRead]
    order: str
    limit: int
    next_cursor: str | None


class DeadLetterRead(Schema):
    id: int
    received_at: datetime
    topic: str
    device_id: str | None
    reason: str
    payload_size: int
    #: The stored first bytes as UTF-8, undecodable bytes shown as U+FFFD.
    payload_text: str
    payload_hex: str


class UnknownDeviceRead(Schema):
    key: str
    protocol: str
    first_seen_at: datetime
    last_seen_at: datetime
    message_count: int
    last_topic: str
    payload_text: str
    payload_hex: str


# --- health -----------------------------------------------------------------------------------


class Readiness(Schema):
    ready: bool
    checks: dict[str, bool]
    reasons: dict[str, str] = Field(default_factory=dict)
