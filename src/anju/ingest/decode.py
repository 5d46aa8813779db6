"""Topic and payload decoding, per protocol and profile. Pure: no I/O, no clock, no database.

``Decoder.decode(topic, payload, received_at, lookup)`` turns one MQTT message into exactly one of:
a ``StoredEvent`` (to insert), a ``DeadLetterRecord`` (malformed, with a reason an operator can read),
an ``UnknownDeviceRecord`` (a device nobody registered) or an ``IgnoredMessage`` (not a device
message, such as Zigbee2MQTT's own bridge topics).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from anju.domain import COMMON_EVENTS, DeviceKind, EventName, Protocol
from anju.engine.model import Observation
from anju.errors import DecodeError
from anju.ingest.profiles import PLACEHOLDER, Profile
from anju.kinds import EVENTS_BY_KIND
from anju.store.safe import storable

MAX_PAYLOAD: Final = 4096
#: How much of a rejected payload is kept for the operator.
HEAD_BYTES: Final = 256
SEQ_MAX: Final = 2**32 - 1
FW_MAX: Final = 64
RSSI_RANGE: Final = (-200, 300)
KIT_DEVICE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})")
#: Epoch milliseconds accepted: 1970-01-01 up to the year 9999.
_EPOCH_MS_MAX: Final = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY_MAX: Final = 160
_DEVICE_COLUMN_MAX: Final = 128
_REASON_MAX: Final = 2000
#: How deep a payload's JSON may nest: the contract's objects are flat; a bomb is refused unparsed.
_JSON_DEPTH_MAX: Final = 32
_Z2M_NAME_MAX: Final = 128
#: Zigbee2MQTT topics that are not device state: the bridge's own, and commands sent to devices.
_Z2M_COMMAND_SUFFIXES = ("/set", "/get")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """A registered device, as the ingestor's cache knows it."""

    device_id: str
    household_id: str
    kind: DeviceKind
    protocol: Protocol
    profile: str
    external_name: str | None = None


DeviceLookup = Callable[[Protocol, str], DeviceInfo | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """A message that becomes a ``sensor_events`` row (events, heartbeats, availability)."""

    device_id: str
    household_id: str
    kind: DeviceKind
    event: EventName
    seq: int | None
    ts: datetime
    received_at: datetime
    event_time: datetime
    clock_skewed: bool = False
    battery: int | None = None
    rssi: int | None = None
    firmware: str | None = None
    #: The device's reading, where its profile maps one (not stored; the engine is given it).
    value: float | None = None
    #: What the message says about the device's liveness: True for any message, False for offline.
    online: bool = True

    @property
    def key(self) -> tuple[str, int | None, datetime]:
        """The redelivery identity: same device, ``seq`` and ``ts`` means the same message."""
        return (self.device_id, self.seq, self.ts)

    def observation(self) -> Observation:
        return Observation(
            household_id=self.household_id,
            device_id=self.device_id,
            kind=self.kind,
            event=self.event,
            at=self.event_time,
            battery=self.battery,
            rssi=self.rssi,
            value=self.value,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterRecord:
    received_at: datetime
    topic: str
    payload_head: bytes
    payload_size: int
    reason: str
    device_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownDeviceRecord:
    received_at: datetime
    protocol: Protocol
    #: The identity an installer registers: the kit's device id or the Zigbee2MQTT friendly name.
    key: str
    topic: str
    payload_head: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoredMessage:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryRecord:
    """The service's own canary, back through the broker (see ``Ingestor.publish_canary``)."""

    sent_at: datetime


Decoded = StoredEvent | DeadLetterRecord | UnknownDeviceRecord | IgnoredMessage | CanaryRecord


@dataclass(frozen=True, slots=True)
class Route:
    """One topic template: ``prefix`` + identity + ``suffix``."""

    protocol: Protocol
    channel: str
    prefix: str
    suffix: str

    @classmethod
    def from_template(cls, protocol: Protocol, channel: str, template: str) -> Route:
        prefix, _, suffix = template.partition(PLACEHOLDER[protocol])
        return cls(protocol, channel, prefix, suffix)

    def match(self, topic: str) -> str | None:
        """The identity segment if ``topic`` fits this template."""
        if len(topic) <= len(self.prefix) + len(self.suffix):
            return None
        if not (topic.startswith(self.prefix) and topic.endswith(self.suffix)):
            return None
        identity = topic[len(self.prefix) : len(topic) - len(self.suffix)]
        # Kit device ids are one topic level; Zigbee2MQTT friendly names may contain "/".
        if self.protocol is Protocol.ANJU_V1 and "/" in identity:
            return None
        return identity

    @property
    def subscription(self) -> str:
        if self.protocol is Protocol.ANJU_V1:
            return f"{self.prefix}+{self.suffix}"
        return f"{self.prefix}#"


class Decoder:
    """Decodes messages of every protocol the loaded profiles describe."""

    def __init__(self, profiles: Mapping[str, Profile], *, max_clock_skew_s: float = 300.0) -> None:
        self.profiles = dict(profiles)
        self._max_skew = timedelta(seconds=max_clock_skew_s)
        routes = {
            Route.from_template(p.protocol, channel, template)
            for p in self.profiles.values()
            for channel, template in p.topics.items()
        }
        # Most specific template first: ".../availability" before the bare state topic.
        self.routes = sorted(routes, key=lambda r: (-(len(r.prefix) + len(r.suffix)), r.prefix, r.channel))

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return tuple(sorted({route.subscription for route in self.routes}))

    def decode(self, topic: str, payload: bytes, received_at: datetime, lookup: DeviceLookup) -> Decoded:
        """One message, never raising: bad input becomes a dead letter with its reason."""
        for route in self.routes:
            identity = route.match(topic)
            if identity is None:
                continue
            try:
                if route.protocol is Protocol.ANJU_V1:
                    return self._kit(route, identity, topic, payload, received_at, lookup)
                return self._z2m(route, identity, topic, payload, received_at, lookup)
            except DecodeError as err:
                return dead_letter(topic, payload, received_at, err.reason, device_id=identity)
            except Exception as err:  # a case no check foresaw: still this message's fault alone
                reason = f"payload could not be decoded: {type(err).__name__}: {err}"
                return dead_letter(topic, payload, received_at, reason, device_id=identity)
        return dead_letter(topic, payload, received_at, "topic matches no device profile in sensors/")

    def canary(self, topic: str, payload: bytes, received_at: datetime) -> Decoded:
        """The service's own canary: ``{"sent_at": RFC 3339}``; anything else is a dead letter."""
        try:
            obj = _json_object(payload)
            return CanaryRecord(sent_at=_ts(obj.get("sent_at", _MISSING), "sent_at"))
        except DecodeError as err:
            return dead_letter(topic, payload, received_at, f"canary: {err.reason}")
        except Exception as err:
            return dead_letter(topic, payload, received_at, f"canary: {type(err).__name__}: {err}")

    # -- the anju kit protocol v1 -------------------------------------------------------------

    def _kit(
        self,
        route: Route,
        device_id: str,
        topic: str,
        payload: bytes,
        received_at: datetime,
        lookup: DeviceLookup,
    ) -> Decoded:
        if not KIT_DEVICE_ID.fullmatch(device_id):
            shown = device_id if len(device_id) <= 80 else device_id[:80] + "…"
            raise DecodeError(f"device id {shown!r} in the topic: expected 1-64 of A-Z a-z 0-9 _ . -")
        _check_size(payload)
        device = lookup(Protocol.ANJU_V1, device_id)
        if device is None:
            return unknown_device(Protocol.ANJU_V1, device_id, topic, payload, received_at)
        if device.protocol is not Protocol.ANJU_V1:
            raise DecodeError(f"device {device_id} is registered for {device.protocol.value}, not anju-v1")
        obj = _json_object(payload)
        seq = _seq(obj)
        ts = _ts(obj.get("ts", _MISSING), "ts")
        declared = obj.get("type", _MISSING)
        if declared is _MISSING and route.channel == "event":
            raise DecodeError("field 'type' is missing")
        if declared is not _MISSING:
            _check_type(declared, device)
        if route.channel == "event":
            event = _kit_event(obj.get("event", _MISSING), device.kind)
        else:
            event = EventName.HEARTBEAT
        skewed = abs(ts - received_at) > self._max_skew
        return StoredEvent(
            device_id=device.device_id,
            household_id=device.household_id,
            kind=device.kind,
            event=event,
            seq=seq,
            ts=ts,
            received_at=received_at,
            event_time=received_at if skewed else ts,
            clock_skewed=skewed,
            battery=_int_field(obj, "battery", 0, 100, "integer 0..100"),
            rssi=_int_field(obj, "rssi", *RSSI_RANGE, "integer dBm -200..300"),
            firmware=_fw(obj),
        )

    # -- Zigbee2MQTT --------------------------------------------------------------------------

    def _z2m(
        self,
        route: Route,
        name: str,
        topic: str,
        payload: bytes,
        received_at: datetime,
        lookup: DeviceLookup,
    ) -> Decoded:
        if name == "bridge" or name.startswith("bridge/"):
            return IgnoredMessage(reason="Zigbee2MQTT bridge topic")
        if name.endswith(_Z2M_COMMAND_SUFFIXES) or "/set/" in name or "/get/" in name:
            return IgnoredMessage(reason="Zigbee2MQTT command to a device")
        if len(name) > _Z2M_NAME_MAX:
            raise DecodeError(
                f"friendly name of {len(name)} characters: at most {_Z2M_NAME_MAX} are supported"
            )
        _check_size(payload)
        device = lookup(Protocol.ZIGBEE2MQTT, name)
        if device is None:
            return unknown_device(Protocol.ZIGBEE2MQTT, name, topic, payload, received_at)
        if device.protocol is not Protocol.ZIGBEE2MQTT:
            raise DecodeError(f"device {device.device_id} is registered for {device.protocol.value}")
        if route.channel == "availability":
            online = _availability(payload)
            return _z2m_event(
                device,
                EventName.ONLINE if online else EventName.OFFLINE,
                ts=received_at,
                received_at=received_at,
                online=online,
            )
        profile = self.profiles.get(device.profile)
        if profile is None or profile.protocol is not Protocol.ZIGBEE2MQTT:
            raise DecodeError(
                f"device {device.device_id} uses profile {device.profile!r}, "
                "which is not a zigbee2mqtt profile in sensors/"
            )
        obj = _json_object(payload)
        event = EventName.HEARTBEAT
        for payload_field, mapping in profile.events.items():
            if payload_field in obj and (mapped := mapping.get(_value_key(obj[payload_field]))):
                event = mapped
                break
        ts = _z2m_last_seen(obj.get("last_seen")) or received_at
        skewed = abs(ts - received_at) > self._max_skew
        return _z2m_event(
            device,
            event,
            ts=ts,
            received_at=received_at,
            skewed=skewed,
            battery=_z2m_number(obj, profile.fields.get("battery"), 0, 100),
            rssi=_z2m_number(obj, profile.fields.get("rssi"), *RSSI_RANGE),
            value=_z2m_reading(obj, profile.fields.get("value")),
        )


def dead_letter(
    topic: str, payload: bytes, received_at: datetime, reason: str, *, device_id: str | None = None
) -> DeadLetterRecord:
    # Raw bytes are stored as bytes; every text is escaped so that recording it can never fail.
    return DeadLetterRecord(
        received_at=received_at,
        topic=storable(topic),
        payload_head=bytes(payload[:HEAD_BYTES]),
        payload_size=len(payload),
        reason=storable(reason, limit=_REASON_MAX),
        device_id=storable(device_id, limit=_DEVICE_COLUMN_MAX) if device_id else None,
    )


def unknown_device(
    protocol: Protocol, key: str, topic: str, payload: bytes, received_at: datetime
) -> UnknownDeviceRecord:
    return UnknownDeviceRecord(
        received_at=received_at,
        protocol=protocol,
        key=storable(key, limit=_KEY_MAX),
        topic=storable(topic),
        payload_head=bytes(payload[:HEAD_BYTES]),
    )


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD:
        raise DecodeError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"payload is not UTF-8 text (bad byte at offset {err.start})") from err
    if not text.strip():
        raise DecodeError("payload is empty: expected a JSON object")
    _check_depth(text)
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as err:
        raise DecodeError(f"payload is not valid JSON: {err}") from err
    if not isinstance(obj, dict):
        raise DecodeError(f"payload must be a JSON object, got {json_type(obj)}")
    # NUL and lone surrogates can only arrive as \u escapes (raw ones are not valid JSON text or
    # UTF-8), so the walk runs only for the rare payload that has an escape at all.
    if "\\u" in text:
        _check_text(obj)
    return obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique: parsers disagree on which duplicate wins (smuggling)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = key if len(key) <= 40 else key[:40] + "…"
                raise DecodeError(f"field '{shown}' appears more than once: field names must be unique")
            seen.add(key)
    return obj


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than the contract needs before parsing (a bomb recurses in json)."""
    if text.count("[") + text.count("{") <= _JSON_DEPTH_MAX:
        return
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > _JSON_DEPTH_MAX:
                raise DecodeError(f"payload nests deeper than {_JSON_DEPTH_MAX} levels")
        elif ch in "]}":
            depth -= 1


def _check_text(value: object, path: str = "") -> None:
    """Refuse NUL and lone surrogates in any string or key: no database stores them as text."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            raise DecodeError(f"field '{path or '?'}': text holds NUL or a lone surrogate (\\u0000, \\ud800)")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or not _encodable(key):
                raise DecodeError("a field name holds NUL or a lone surrogate (\\u0000, \\ud800)")
            _check_text(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{path}[{i}]")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seq(obj: Mapping[str, Any]) -> int:
    value = obj.get("seq", _MISSING)
    if value is _MISSING:
        raise DecodeError("field 'seq' is missing")
    if not _is_int(value) or not 0 <= value <= SEQ_MAX:
        raise DecodeError(f"field 'seq': expected integer 0..{SEQ_MAX}, got {_shown(value)}")
    return int(value)


def _ts(value: object, name: str) -> datetime:
    expected = f"field '{name}': expected RFC 3339 time with offset or integer epoch milliseconds"
    if value is _MISSING:
        raise DecodeError(f"field '{name}' is missing")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= _EPOCH_MS_MAX:
            raise DecodeError(f"{expected}, got {value} (outside 1970..9999)")
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        if not _RFC3339.fullmatch(value):
            hint = " (no UTC offset)" if re.fullmatch(r"[\d\-]{10}[Tt ][\d:.]+", value) else ""
            raise DecodeError(f"{expected}, got {_shown(value)}{hint}")
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError) as err:
            raise DecodeError(f"{expected}, got {_shown(value)} ({err})") from err
    raise DecodeError(f"{expected}, got {_shown(value)}")


def _check_type(declared: object, device: DeviceInfo) -> None:
    if not isinstance(declared, str):
        raise DecodeError(f"field 'type': expected door, pir or button, got {_shown(declared)}")
    if declared != device.kind.value:
        raise DecodeError(
            f"field 'type': device {device.device_id} is registered as {device.kind.value!r}, "
            f"the message says {declared!r}"
        )


def _kit_event(value: object, kind: DeviceKind) -> EventName:
    allowed = EVENTS_BY_KIND[kind] | COMMON_EVENTS
    expected = ", ".join(sorted(e.value for e in allowed))
    if value is _MISSING:
        raise DecodeError("field 'event' is missing")
    if not isinstance(value, str):
        raise DecodeError(f"field 'event': expected one of {expected}, got {_shown(value)}")
    try:
        event = EventName(value)
    except ValueError:
        event = None
    if event is None or event not in allowed:
        raise DecodeError(
            f"field 'event': {_shown(value)} is not an event of a {kind.value} (expected {expected})"
        )
    return event


def _int_field(obj: Mapping[str, Any], name: str, low: int, high: int, expected: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not _is_int(value) or not low <= value <= high:
        raise DecodeError(f"field '{name}': expected {expected}, got {_shown(value)}")
    return int(value)


def _fw(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("fw")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > FW_MAX:
        raise DecodeError(f"field 'fw': expected text of at most {FW_MAX} characters, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    """A value's type and, when short, the value itself: ``string "12"``, ``integer 4294967296``."""
    kind = json_type(value)
    if isinstance(value, (dict, list)) or value is None:
        return kind
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 40:
        text = text[:40] + "…"
    return f"{kind} {text}"


def _availability(payload: bytes) -> bool:
    text = payload.decode("utf-8", errors="replace").strip()
    if text in ("online", "offline"):
        return text == "online"
    try:
        _check_depth(text)
        obj = json.loads(text)
    except (ValueError, RecursionError, DecodeError):
        obj = None
    state = obj.get("state") if isinstance(obj, dict) else None
    if state in ("online", "offline"):
        return bool(state == "online")
    raise DecodeError('availability: expected online, offline or {"state": "online"|"offline"}')


def _value_key(value: object) -> str:
    """A JSON value as the text a profile's ``[events]`` table uses as key (``true``, ``single``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _z2m_number(obj: Mapping[str, Any], name: str | None, low: int, high: int) -> int | None:
    if name is None:
        return None
    value = obj.get(name)
    if value is None:
        return None
    # Zigbee2MQTT computes some values (battery from voltage) and may send a fraction.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DecodeError(f"field '{name}': expected a number {low}..{high}, got {_shown(value)}")
    number = round(value)
    if not low <= number <= high:
        raise DecodeError(f"field '{name}': expected a number {low}..{high}, got {_shown(value)}")
    return number


def _z2m_reading(obj: Mapping[str, Any], name: str | None) -> float | None:
    """The profile's ``value`` field as a finite number (absent: None)."""
    if name is None or obj.get(name) is None:
        return None
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DecodeError(f"field '{name}': expected a number, got {_shown(value)}")
    return float(value)


def _z2m_last_seen(value: object) -> datetime | None:
    """Zigbee2MQTT's optional ``last_seen`` (ISO 8601 or epoch ms); absent or unreadable -> None."""
    if value is None:
        return None
    try:
        return _ts(value, "last_seen")
    except DecodeError:
        return None


def _z2m_event(
    device: DeviceInfo,
    event: EventName,
    *,
    ts: datetime,
    received_at: datetime,
    skewed: bool = False,
    online: bool = True,
    battery: int | None = None,
    rssi: int | None = None,
    value: float | None = None,
) -> StoredEvent:
    return StoredEvent(
        device_id=device.device_id,
        household_id=device.household_id,
        kind=device.kind,
        event=event,
        seq=None,
        ts=ts,
        received_at=received_at,
        event_time=received_at if skewed else ts,
        clock_skewed=skewed,
        battery=battery,
        rssi=rssi,
        value=value,
        online=online,
    )
