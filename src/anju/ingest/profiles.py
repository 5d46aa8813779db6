"""Device profiles: one TOML file per kind of device in ``sensors/``, loaded into frozen descriptions.

A profile names the protocol that carries the device's messages (the anju kit v1 or Zigbee2MQTT), the
topics, how payload fields map to events, the heartbeat interval and the low-battery threshold.
Adding a device kind for a known protocol is a new file, not new code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from anju.domain import COMMON_EVENTS, DeviceKind, EventName, Protocol
from anju.errors import ProfileError
from anju.kinds import EVENTS_BY_KIND

#: Topic channels each protocol needs, and the placeholder that carries the device's identity.
CHANNELS: Mapping[Protocol, frozenset[str]] = MappingProxyType(
    {
        Protocol.ANJU_V1: frozenset({"event", "heartbeat"}),
        Protocol.ZIGBEE2MQTT: frozenset({"state", "availability"}),
    }
)
PLACEHOLDER: Mapping[Protocol, str] = MappingProxyType(
    {Protocol.ANJU_V1: "{device_id}", Protocol.ZIGBEE2MQTT: "{friendly_name}"}
)
#: Payload fields a Zigbee2MQTT profile may map onto the device's battery and signal columns, and
#: onto the observation's reading (``value``).
SIGNAL_FIELDS = frozenset({"battery", "rssi", "value"})

_E = TypeVar("_E", DeviceKind, Protocol, EventName)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_KEYS = frozenset(
    {"name", "title", "kind", "protocol", "vendor", "model", "heartbeat_s", "battery_low", "topics"}
)
_Z2M_KEYS = frozenset({"fields", "events"})


@dataclass(frozen=True, kw_only=True)
class Profile:
    """What Anju knows about one kind of device."""

    name: str
    title: str
    kind: DeviceKind
    protocol: Protocol
    vendor: str = ""
    model: str = ""
    #: Seconds between heartbeats; None for devices whose liveness comes from elsewhere.
    heartbeat_s: int | None = None
    #: Battery percent under which the low-battery rule fires.
    battery_low: int = 20
    #: Channel name -> topic template (``anju/v1/{device_id}/event``).
    topics: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Zigbee2MQTT: payload field -> (JSON value as text -> event), in file order.
    events: Mapping[str, Mapping[str, EventName]] = field(default_factory=lambda: MappingProxyType({}))
    #: Zigbee2MQTT: Anju column (``battery``, ``rssi``) or the reading (``value``) -> payload field.
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source: Path | None = None

    @property
    def allowed_events(self) -> frozenset[EventName]:
        """Events this kind of device may report."""
        return EVENTS_BY_KIND[self.kind] | COMMON_EVENTS


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Every ``*.toml`` profile in ``directory`` by name; the first invalid file stops the load."""
    if not directory.is_dir():
        raise ProfileError(f"{directory}: the device profile folder does not exist")
    profiles: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.toml")):
        profile = load_profile(path)
        if profile.name in profiles:
            raise ProfileError(f"{path.name}: profile name {profile.name!r} is already used")
        profiles[profile.name] = profile
    if not profiles:
        raise ProfileError(f"{directory}: no device profiles (*.toml) found")
    return profiles


def load_profile(path: Path) -> Profile:
    """One profile file, validated; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ProfileError(f"{path.name}: cannot read: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path.name}: not valid TOML: {err}") from err
    try:
        profile = parse_profile(data, source=path)
    except ProfileError as err:
        raise ProfileError(f"{path.name}: {err}") from err
    if profile.name != path.stem:
        raise ProfileError(f"{path.name}: name {profile.name!r} must match the file name {path.stem!r}")
    return profile


def parse_profile(data: Mapping[str, Any], *, source: Path | None = None) -> Profile:
    """A profile from parsed TOML."""
    protocol = _enum(Protocol, data.get("protocol"), "protocol")
    allowed = _KEYS | (_Z2M_KEYS if protocol is Protocol.ZIGBEE2MQTT else frozenset())
    extra = sorted(set(data) - allowed)
    if extra:
        raise ProfileError(f"unknown key(s) {', '.join(extra)} for a {protocol.value} profile")
    name = _text(data, "name", required=True)
    if not _NAME.match(name):
        raise ProfileError(f"name {name!r}: use 1-64 of a-z 0-9 _ . - starting with a letter or digit")
    kind = _enum(DeviceKind, data.get("kind"), "kind")
    heartbeat = data.get("heartbeat_s")
    if heartbeat is not None and (not _is_int(heartbeat) or not 10 <= heartbeat <= 7 * 86400):
        raise ProfileError(f"heartbeat_s: expected whole seconds 10..604800, got {heartbeat!r}")
    battery_low = data.get("battery_low", 20)
    if not _is_int(battery_low) or not 0 <= battery_low <= 100:
        raise ProfileError(f"battery_low: expected a percent 0..100, got {battery_low!r}")
    profile = Profile(
        name=name,
        title=_text(data, "title", required=True),
        kind=kind,
        protocol=protocol,
        vendor=_text(data, "vendor"),
        model=_text(data, "model"),
        heartbeat_s=heartbeat,
        battery_low=battery_low,
        topics=_topics(data.get("topics"), protocol),
        events=_events(data.get("events", {}), kind) if protocol is Protocol.ZIGBEE2MQTT else {},
        fields=_fields(data.get("fields", {})) if protocol is Protocol.ZIGBEE2MQTT else {},
        source=source,
    )
    if protocol is Protocol.ZIGBEE2MQTT and not profile.events:
        raise ProfileError("events: a zigbee2mqtt profile must map at least one payload field to events")
    return profile


def _topics(raw: object, protocol: Protocol) -> Mapping[str, str]:
    if not isinstance(raw, dict):
        raise ProfileError("[topics] table is missing")
    needed = CHANNELS[protocol]
    missing, extra = sorted(needed - set(raw)), sorted(set(raw) - needed)
    if missing or extra:
        raise ProfileError(
            f"[topics] must have exactly {', '.join(sorted(needed))} for {protocol.value}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    placeholder = PLACEHOLDER[protocol]
    topics: dict[str, str] = {}
    for channel in sorted(needed):
        template = raw[channel]
        if not isinstance(template, str) or template.count(placeholder) != 1:
            raise ProfileError(
                f"topics.{channel}: expected a topic with {placeholder} once, got {template!r}"
            )
        if "+" in template or "#" in template or "{" in template.replace(placeholder, ""):
            raise ProfileError(f"topics.{channel}: wildcards and other placeholders are not allowed")
        if placeholder not in template.split("/"):
            raise ProfileError(f"topics.{channel}: {placeholder} must be a whole topic level")
        topics[channel] = template
    return MappingProxyType(topics)


def _events(raw: object, kind: DeviceKind) -> Mapping[str, Mapping[str, EventName]]:
    if not isinstance(raw, dict):
        raise ProfileError("[events] must be a table of payload field -> {value = event}")
    allowed = EVENTS_BY_KIND[kind] | COMMON_EVENTS
    events: dict[str, Mapping[str, EventName]] = {}
    for payload_field, mapping in raw.items():
        if not isinstance(mapping, dict) or not mapping:
            raise ProfileError(f"events.{payload_field}: expected a table of value = event")
        values: dict[str, EventName] = {}
        for value, event_name in mapping.items():
            event = _enum(EventName, event_name, f"events.{payload_field}.{value}")
            if event not in allowed:
                expected = ", ".join(sorted(e.value for e in allowed))
                raise ProfileError(
                    f"events.{payload_field}.{value}: {event.value!r} is not an event of a {kind.value} "
                    f"(expected {expected})"
                )
            values[value] = event
        events[payload_field] = MappingProxyType(values)
    return MappingProxyType(events)


def _fields(raw: object) -> Mapping[str, str]:
    if not isinstance(raw, dict):
        raise ProfileError("[fields] must be a table of battery/rssi/value = payload field")
    extra = sorted(set(raw) - SIGNAL_FIELDS)
    if extra:
        raise ProfileError(f"fields: unknown key(s) {', '.join(extra)} (expected battery, rssi, value)")
    for key, value in raw.items():
        if not isinstance(value, str) or not value:
            raise ProfileError(f"fields.{key}: expected the name of a payload field, got {value!r}")
    return MappingProxyType(dict(raw))


def _text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{key}: expected text, got {value!r}")
    return value.strip()


def _enum(enum: type[_E], value: object, key: str) -> _E:
    try:
        return enum(value if isinstance(value, str) else repr(value))
    except ValueError as err:
        expected = ", ".join(member.value for member in enum)
        raise ProfileError(f"{key}: expected one of {expected}, got {value!r}") from err


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
