"""What decoding one message yields: a stored event, a dead letter, an unknown device, an ignored
message or the service's own canary; and the registered device the decoder looks up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from anju.domain import DeviceKind, EventName, Protocol
from anju.engine.model import Observation
from anju.store.safe import storable

#: How much of a rejected payload is kept for the operator.
HEAD_BYTES: Final = 256
_KEY_MAX: Final = 160
_DEVICE_COLUMN_MAX: Final = 128
_REASON_MAX: Final = 2000


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
