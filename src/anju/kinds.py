"""What each kind of device means, one frozen description per kind (Home Assistant's entity descriptions).

The one place a device kind is described: the events it reports, which of them are signs of life,
which end "away" (the resident is home again), its location class and how the simulator encodes it
for Zigbee2MQTT. Ingest, replay, the engine and the simulator all read this table; labels are the
vocabulary's. It sits on the floor of ``domain`` (plain data and pure functions, no I/O), so the
engine and the simulator can both read it without either importing the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class DeviceKind(StrEnum):
    """The kinds of device (each has one description in ``SENSOR_KINDS``)."""

    DOOR = "door"
    PIR = "pir"
    BUTTON = "button"
    BED = "bed"


class EventName(StrEnum):
    """What a device may say: each kind's own events, then those every kind may send."""

    OPEN = "open"
    CLOSE = "close"
    MOTION = "motion"
    PRESS = "press"
    LONG_PRESS = "long_press"
    OCCUPIED = "occupied"
    VACANT = "vacant"
    TAMPER = "tamper"
    HEARTBEAT = "heartbeat"
    #: Availability reported by a gateway (Zigbee2MQTT) rather than by the device itself.
    ONLINE = "online"
    OFFLINE = "offline"


#: Events every kind may report besides its own.
COMMON_EVENTS = frozenset({EventName.TAMPER})


#: The simulator's Zigbee2MQTT state payload for an event (None: the event has no state payload of
#: this kind): ``(event, battery, linkquality, voltage) -> fields``.
ZigbeeEncoder = Callable[[str, int, int, int], dict[str, object] | None]
#: Events any device may send that say nothing about the resident.
LIVENESS_EVENTS = frozenset({EventName.HEARTBEAT, EventName.ONLINE, EventName.OFFLINE})


@dataclass(frozen=True, kw_only=True, slots=True)
class SensorKind:
    """One kind of device: what it reports and what that means for the resident."""

    kind: DeviceKind
    #: The events this kind reports (``tamper`` and liveness are allowed for every kind besides).
    events: frozenset[EventName]
    #: Events that show someone is in the home (they reset the silence timers).
    signs_of_life: frozenset[EventName]
    #: Signs of life that end "away": the resident is home again.
    ends_away: frozenset[EventName] = frozenset()
    #: The location class (``engine.learn.LOCATIONS``) of every device of this kind; None: read it
    #: from the device's own location words.
    location_class: str | None = None
    #: How the simulator encodes this kind's events for Zigbee2MQTT (None: kit protocol only).
    zigbee: ZigbeeEncoder | None = None


def _door(event: str, battery: int, lq: int, voltage: int) -> dict[str, object] | None:
    if event not in ("open", "close"):
        return None
    # contact: false means the magnet is away from the sensor, i.e. the door is open.
    return {"battery": battery, "contact": event != "open", "linkquality": lq, "voltage": voltage}


def _pir(event: str, battery: int, lq: int, voltage: int) -> dict[str, object] | None:
    if event not in ("motion", "clear"):
        return None
    return {
        "battery": battery,
        "illuminance_lux": 20,
        "linkquality": lq,
        "occupancy": event == "motion",
        "voltage": voltage,
    }


def _button(event: str, battery: int, lq: int, voltage: int) -> dict[str, object] | None:
    if event not in ("press", "long_press"):
        return None
    return {"action": "single" if event == "press" else "hold", "battery": battery, "linkquality": lq}


_ALL = (
    SensorKind(
        kind=DeviceKind.DOOR,
        events=frozenset({EventName.OPEN, EventName.CLOSE}),
        signs_of_life=frozenset({EventName.OPEN, EventName.CLOSE}),
        location_class="entrance",
        zigbee=_door,
    ),
    SensorKind(
        kind=DeviceKind.PIR,
        events=frozenset({EventName.MOTION}),
        signs_of_life=frozenset({EventName.MOTION}),
        ends_away=frozenset({EventName.MOTION}),
        zigbee=_pir,
    ),
    SensorKind(
        kind=DeviceKind.BUTTON,
        events=frozenset({EventName.PRESS, EventName.LONG_PRESS}),
        signs_of_life=frozenset({EventName.PRESS, EventName.LONG_PRESS}),
        zigbee=_button,
    ),
    SensorKind(
        kind=DeviceKind.BED,
        events=frozenset({EventName.OCCUPIED, EventName.VACANT}),
        signs_of_life=frozenset({EventName.OCCUPIED, EventName.VACANT}),
        # Lying down in one's own bed means home again (getting up follows an "occupied" anyway).
        ends_away=frozenset({EventName.OCCUPIED}),
        location_class="bedroom",
    ),
)

SENSOR_KINDS: Mapping[DeviceKind, SensorKind] = MappingProxyType({k.kind: k for k in _ALL})
#: The same table by the kind's text (an Enum's hash is its name's, so ``"pir"`` finds nothing above).
SENSOR_KINDS_BY_NAME: Mapping[str, SensorKind] = MappingProxyType({k.kind.value: k for k in _ALL})
#: Which events each kind of device may report (``tamper`` and liveness are allowed for all).
EVENTS_BY_KIND: Mapping[DeviceKind, frozenset[EventName]] = MappingProxyType({k.kind: k.events for k in _ALL})
#: Every event that is a sign of life of some kind, and every one that ends "away".
SIGNS_OF_LIFE = frozenset(e for k in _ALL for e in k.signs_of_life)
ENDS_AWAY = frozenset(e for k in _ALL for e in k.ends_away)

__all__ = [
    "COMMON_EVENTS",
    "ENDS_AWAY",
    "EVENTS_BY_KIND",
    "LIVENESS_EVENTS",
    "SENSOR_KINDS",
    "SENSOR_KINDS_BY_NAME",
    "SIGNS_OF_LIFE",
    "SensorKind",
    "ZigbeeEncoder",
]
