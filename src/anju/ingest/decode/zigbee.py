"""Zigbee2MQTT: ``zigbee2mqtt/<friendly name>`` state objects mapped to events by the device's profile
(``[events]``, ``[fields]`` in sensors/), and ``.../availability`` online or offline."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from anju.domain import EventName, Protocol
from anju.errors import DecodeError
from anju.ingest.decode.payload import RSSI_RANGE, check_depth, check_size, json_object, shown, timestamp
from anju.ingest.decode.records import (
    Decoded,
    DeviceInfo,
    DeviceLookup,
    IgnoredMessage,
    StoredEvent,
    unknown_device,
)
from anju.ingest.decode.topics import Route
from anju.ingest.profiles import Profile

_Z2M_NAME_MAX: Final = 128
#: Zigbee2MQTT topics that are not device state: the bridge's own, and commands sent to devices.
_Z2M_COMMAND_SUFFIXES = ("/set", "/get")


def decode_z2m(
    profiles: Mapping[str, Profile],
    route: Route,
    name: str,
    topic: str,
    payload: bytes,
    received_at: datetime,
    lookup: DeviceLookup,
    max_skew: timedelta,
) -> Decoded:
    """One Zigbee2MQTT message whose topic names ``name``; a bad one raises ``DecodeError``."""
    if name == "bridge" or name.startswith("bridge/"):
        return IgnoredMessage(reason="Zigbee2MQTT bridge topic")
    if name.endswith(_Z2M_COMMAND_SUFFIXES) or "/set/" in name or "/get/" in name:
        return IgnoredMessage(reason="Zigbee2MQTT command to a device")
    if len(name) > _Z2M_NAME_MAX:
        raise DecodeError(f"friendly name of {len(name)} characters: at most {_Z2M_NAME_MAX} are supported")
    check_size(payload)
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
    profile = profiles.get(device.profile)
    if profile is None or profile.protocol is not Protocol.ZIGBEE2MQTT:
        raise DecodeError(
            f"device {device.device_id} uses profile {device.profile!r}, "
            "which is not a zigbee2mqtt profile in sensors/"
        )
    obj = json_object(payload)
    event = EventName.HEARTBEAT
    for payload_field, mapping in profile.events.items():
        if payload_field in obj and (mapped := mapping.get(_value_key(obj[payload_field]))):
            event = mapped
            break
    ts = _z2m_last_seen(obj.get("last_seen")) or received_at
    skewed = abs(ts - received_at) > max_skew
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


def _availability(payload: bytes) -> bool:
    text = payload.decode("utf-8", errors="replace").strip()
    if text in ("online", "offline"):
        return text == "online"
    try:
        check_depth(text)
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
        raise DecodeError(f"field '{name}': expected a number {low}..{high}, got {shown(value)}")
    number = round(value)
    if not low <= number <= high:
        raise DecodeError(f"field '{name}': expected a number {low}..{high}, got {shown(value)}")
    return number


def _z2m_reading(obj: Mapping[str, Any], name: str | None) -> float | None:
    """The profile's ``value`` field as a finite number (absent: None)."""
    if name is None or obj.get(name) is None:
        return None
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DecodeError(f"field '{name}': expected a number, got {shown(value)}")
    return float(value)


def _z2m_last_seen(value: object) -> datetime | None:
    """Zigbee2MQTT's optional ``last_seen`` (ISO 8601 or epoch ms); absent or unreadable -> None."""
    if value is None:
        return None
    try:
        return timestamp(value, "last_seen")
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
