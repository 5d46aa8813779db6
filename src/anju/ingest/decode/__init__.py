"""Topic and payload decoding, per protocol and profile. Pure: no I/O, no clock, no database.

``Decoder.decode(topic, payload, received_at, lookup)`` turns one MQTT message into exactly one of:
a ``StoredEvent`` (to insert), a ``DeadLetterRecord`` (malformed, with a reason an operator can read),
an ``UnknownDeviceRecord`` (a device nobody registered) or an ``IgnoredMessage`` (not a device
message, such as Zigbee2MQTT's own bridge topics). ``records`` holds these, ``topics`` the topic
templates, ``payload`` the checks both protocols share, ``kit`` and ``zigbee`` one protocol each.
"""

from __future__ import annotations

from anju.ingest.decode.decoder import Decoder
from anju.ingest.decode.payload import MAX_PAYLOAD, json_type
from anju.ingest.decode.records import (
    HEAD_BYTES,
    CanaryRecord,
    DeadLetterRecord,
    Decoded,
    DeviceInfo,
    DeviceLookup,
    IgnoredMessage,
    StoredEvent,
    UnknownDeviceRecord,
    dead_letter,
    unknown_device,
)
from anju.ingest.decode.topics import Route

__all__ = [
    "HEAD_BYTES",
    "MAX_PAYLOAD",
    "CanaryRecord",
    "DeadLetterRecord",
    "Decoded",
    "Decoder",
    "DeviceInfo",
    "DeviceLookup",
    "IgnoredMessage",
    "Route",
    "StoredEvent",
    "UnknownDeviceRecord",
    "dead_letter",
    "json_type",
    "unknown_device",
]
