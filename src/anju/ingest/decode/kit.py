"""The anju kit protocol v1: ``anju/v1/<device_id>/event`` and ``.../heartbeat``, a flat JSON object
with ``seq``, ``ts``, ``type``, ``event``, ``battery``, ``rssi`` and ``fw`` (CONTRACT.md section 1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from anju.domain import COMMON_EVENTS, DeviceKind, EventName, Protocol
from anju.errors import DecodeError
from anju.ingest.decode.payload import MISSING, RSSI_RANGE, check_size, is_int, json_object, shown, timestamp
from anju.ingest.decode.records import Decoded, DeviceInfo, DeviceLookup, StoredEvent, unknown_device
from anju.ingest.decode.topics import Route
from anju.kinds import EVENTS_BY_KIND

SEQ_MAX: Final = 2**32 - 1
FW_MAX: Final = 64
KIT_DEVICE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def decode_kit(
    route: Route,
    device_id: str,
    topic: str,
    payload: bytes,
    received_at: datetime,
    lookup: DeviceLookup,
    max_skew: timedelta,
) -> Decoded:
    """One kit message whose topic names ``device_id``; a bad one raises ``DecodeError``."""
    if not KIT_DEVICE_ID.fullmatch(device_id):
        head = device_id if len(device_id) <= 80 else device_id[:80] + "…"
        raise DecodeError(f"device id {head!r} in the topic: expected 1-64 of A-Z a-z 0-9 _ . -")
    check_size(payload)
    device = lookup(Protocol.ANJU_V1, device_id)
    if device is None:
        return unknown_device(Protocol.ANJU_V1, device_id, topic, payload, received_at)
    if device.protocol is not Protocol.ANJU_V1:
        raise DecodeError(f"device {device_id} is registered for {device.protocol.value}, not anju-v1")
    obj = json_object(payload)
    seq = _seq(obj)
    ts = timestamp(obj.get("ts", MISSING), "ts")
    declared = obj.get("type", MISSING)
    if declared is MISSING and route.channel == "event":
        raise DecodeError("field 'type' is missing")
    if declared is not MISSING:
        _check_type(declared, device)
    if route.channel == "event":
        event = _kit_event(obj.get("event", MISSING), device.kind)
    else:
        event = EventName.HEARTBEAT
    skewed = abs(ts - received_at) > max_skew
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


def _seq(obj: Mapping[str, Any]) -> int:
    value = obj.get("seq", MISSING)
    if value is MISSING:
        raise DecodeError("field 'seq' is missing")
    if not is_int(value) or not 0 <= value <= SEQ_MAX:
        raise DecodeError(f"field 'seq': expected integer 0..{SEQ_MAX}, got {shown(value)}")
    return int(value)


def _check_type(declared: object, device: DeviceInfo) -> None:
    if not isinstance(declared, str):
        raise DecodeError(f"field 'type': expected door, pir or button, got {shown(declared)}")
    if declared != device.kind.value:
        raise DecodeError(
            f"field 'type': device {device.device_id} is registered as {device.kind.value!r}, "
            f"the message says {declared!r}"
        )


def _kit_event(value: object, kind: DeviceKind) -> EventName:
    allowed = EVENTS_BY_KIND[kind] | COMMON_EVENTS
    expected = ", ".join(sorted(e.value for e in allowed))
    if value is MISSING:
        raise DecodeError("field 'event' is missing")
    if not isinstance(value, str):
        raise DecodeError(f"field 'event': expected one of {expected}, got {shown(value)}")
    try:
        event = EventName(value)
    except ValueError:
        event = None
    if event is None or event not in allowed:
        raise DecodeError(
            f"field 'event': {shown(value)} is not an event of a {kind.value} (expected {expected})"
        )
    return event


def _int_field(obj: Mapping[str, Any], name: str, low: int, high: int, expected: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not is_int(value) or not low <= value <= high:
        raise DecodeError(f"field '{name}': expected {expected}, got {shown(value)}")
    return int(value)


def _fw(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("fw")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > FW_MAX:
        raise DecodeError(f"field 'fw': expected text of at most {FW_MAX} characters, got {shown(value)}")
    return value
