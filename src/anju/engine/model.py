"""The engine's value objects: what goes in (observations), what comes out (findings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anju.domain import CheckinAnswer, DeviceKind, EventName, Rule, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One stored sensor message, on event time."""

    household_id: str
    device_id: str
    kind: DeviceKind
    event: EventName
    at: datetime
    battery: int | None = None
    rssi: int | None = None
    #: The device's reading (a bed mat's pressure, a sensor's lux), where its profile maps one.
    value: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckinReply:
    """The resident's answer to a check-in call (an answer row), on event time."""

    household_id: str
    answer: CheckinAnswer
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A rule fired. ``key`` identifies the firing so it is raised once, whatever replays."""

    household_id: str
    rule: Rule
    severity: Severity
    at: datetime
    key: str
    detail: dict[str, Any] = field(default_factory=dict)
    device_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    device_id: str
    kind: DeviceKind
    location: str = ""
    #: None for devices that send no heartbeat; they are never declared offline.
    heartbeat_s: int | None = None
    battery_low: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Intake:
    """The installer's intake answers: what the resident says of their own routine (all optional).

    Times are local minutes after midnight; ``outings`` are (local start minute, minutes away).
    """

    wake: int | None = None
    bed: int | None = None
    outings: tuple[tuple[int, int], ...] = ()
    pet: bool = False
    #: Other ways out than the front door (a back door, a garden gate): absences the door misses.
    other_exits: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdSpec:
    household_id: str
    timezone: str
    devices: tuple[DeviceSpec, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)
    #: The intake answers that narrow the center's prior for a new home (None: none given).
    intake: Intake | None = None
