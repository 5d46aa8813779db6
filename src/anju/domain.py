"""Vocabulary shared by every floor: device kinds, events, rules, severities, incident states."""

from __future__ import annotations

from enum import StrEnum

# What a device kind is and says lives in one table (``anju.kinds``); its names stay importable here.
from anju.kinds import COMMON_EVENTS as COMMON_EVENTS
from anju.kinds import DeviceKind as DeviceKind
from anju.kinds import EventName as EventName


class Protocol(StrEnum):
    ANJU_V1 = "anju-v1"
    ZIGBEE2MQTT = "zigbee2mqtt"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Rule(StrEnum):
    BUTTON = "button"
    INACTIVITY = "inactivity"
    NO_MORNING_ACTIVITY = "no_morning_activity"
    NIGHT_DOOR = "night_door"
    NOT_RETURNED = "not_returned"
    DOOR_LEFT_OPEN = "door_left_open"
    ROUTINE_ANOMALY = "routine_anomaly"
    DEVICE_OFFLINE = "device_offline"
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    #: A suspicion put to the resident before anyone is paged (CONTRACT.md section 6).
    CHECKIN = "checkin"


class CheckinAnswer(StrEnum):
    """What a check-in call came back with (an event file's ``type=checkin`` row; CONTRACT.md section 2).

    Not a device event: a check-in answer is not a sign of life in a place, and never a device.
    """

    OK = "ok"
    HELP = "help"
    NO_ANSWER = "no_answer"


#: ``device_id`` and ``type`` of an answer row in an event file and in stored events.
CHECKIN_TYPE = "checkin"


#: The contract's severity per rule (CONTRACT.md section 6).
RULE_SEVERITY: dict[Rule, Severity] = {
    Rule.BUTTON: Severity.CRITICAL,
    Rule.INACTIVITY: Severity.HIGH,
    Rule.NO_MORNING_ACTIVITY: Severity.HIGH,
    Rule.NIGHT_DOOR: Severity.HIGH,
    Rule.NOT_RETURNED: Severity.HIGH,
    Rule.DOOR_LEFT_OPEN: Severity.MEDIUM,
    Rule.ROUTINE_ANOMALY: Severity.MEDIUM,
    Rule.DEVICE_OFFLINE: Severity.LOW,
    Rule.LOW_BATTERY: Severity.LOW,
    Rule.TAMPER: Severity.LOW,
    Rule.CHECKIN: Severity.MEDIUM,
}


class IncidentState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


#: The closed loop 系统预警 → 中心响应 → 上门处置 → 后续回访, with the contract's two shortcuts.
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    IncidentState.OPEN: frozenset({IncidentState.ACKNOWLEDGED}),
    IncidentState.ACKNOWLEDGED: frozenset({IncidentState.DISPATCHED, IncidentState.RESOLVED}),
    IncidentState.DISPATCHED: frozenset({IncidentState.RESOLVED}),
    IncidentState.RESOLVED: frozenset({IncidentState.FOLLOW_UP, IncidentState.CLOSED}),
    IncidentState.FOLLOW_UP: frozenset({IncidentState.CLOSED}),
    IncidentState.CLOSED: frozenset(),
}
ACTIVE_STATES = frozenset({IncidentState.OPEN, IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED})


class Outcome(StrEnum):
    FALSE_ALARM = "false_alarm"
    RESIDENT_WELL = "resident_well"
    ASSISTED_AT_HOME = "assisted_at_home"
    TAKEN_TO_HOSPITAL = "taken_to_hospital"
    DECEASED = "deceased"
    DEVICE_FAULT = "device_fault"
    OTHER = "other"


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    RESPONDER = "responder"


class IngestOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    UNKNOWN_DEVICE = "unknown_device"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    QUEUED = "queued"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    ANSWERED = "answered"
    NOT_SENT = "not_sent"


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    DINGTALK = "dingtalk"
    #: A post to the household's area group chat (a DingTalk or WeCom robot, by ``ANJU_CHAT_ROUTES``).
    GROUP = "group"
    CONSOLE = "console"
