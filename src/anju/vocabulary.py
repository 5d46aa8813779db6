"""The one table of zh-CN and English words for the domain's values, read by dispatch, notify and console.

Rules, severities, device kinds, events, rooms (the engine's location classes), escalation steps
and the alarm path's health checks each have exactly one wording here; a message, a page and a
report say the same thing in the same words. A value with no row shows itself (a step a care
manager adds to ``rules/escalation.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from anju.domain import Channel, CheckinAnswer, DeviceKind, EventName, Rule, Severity


class Label(NamedTuple):
    zh: str
    en: str


#: What fired, as a phrase that reads both as a column value and inside a message.
RULES: Mapping[str, Label] = {
    Rule.BUTTON: Label("紧急按钮报警", "alarm button pressed"),
    Rule.INACTIVITY: Label("长时间无活动", "no activity for too long"),
    Rule.NO_MORNING_ACTIVITY: Label("早晨无活动", "no activity this morning"),
    Rule.NIGHT_DOOR: Label("夜间开门外出", "left home at night"),
    Rule.NOT_RETURNED: Label("外出未归", "has not returned home"),
    Rule.DOOR_LEFT_OPEN: Label("门长时间未关", "door left open"),
    Rule.ROUTINE_ANOMALY: Label("作息异常", "unusual daily routine"),
    Rule.DEVICE_OFFLINE: Label("设备离线", "device offline"),
    Rule.LOW_BATTERY: Label("设备电量低", "device battery low"),
    Rule.TAMPER: Label("设备被拆动", "device tampered with"),
    Rule.CHECKIN: Label("平安确认呼叫", "check-in call to the resident"),
    # Not an engine rule: the system's own incident when the alarm path fails (anju.health).
    "alarm_path": Label("报警链路异常", "alarm path degraded"),
}

SEVERITIES: Mapping[str, Label] = {
    Severity.CRITICAL: Label("紧急", "critical"),
    Severity.HIGH: Label("重要", "high"),
    Severity.MEDIUM: Label("一般", "medium"),
    Severity.LOW: Label("提示", "low"),
}

DEVICE_KINDS: Mapping[str, Label] = {
    DeviceKind.DOOR: Label("门磁", "door sensor"),
    DeviceKind.PIR: Label("人体红外", "motion sensor"),
    DeviceKind.BUTTON: Label("报警按钮", "alarm button"),
    DeviceKind.BED: Label("离床感应垫", "bed occupancy mat"),
}

EVENTS: Mapping[str, Label] = {
    EventName.OPEN: Label("开门", "opened"),
    EventName.CLOSE: Label("关门", "closed"),
    EventName.MOTION: Label("有人活动", "movement"),
    EventName.PRESS: Label("按下", "pressed"),
    EventName.LONG_PRESS: Label("长按", "long press"),
    EventName.OCCUPIED: Label("上床", "in bed"),
    EventName.VACANT: Label("离床", "out of bed"),
    EventName.TAMPER: Label("防拆报警", "tamper"),
    EventName.HEARTBEAT: Label("心跳", "heartbeat"),
    EventName.ONLINE: Label("上线", "online"),
    EventName.OFFLINE: Label("离线", "offline"),
    # Not an event name: the flag on an event whose device clock was too far off to trust.
    "clock_skewed": Label("设备时钟偏差", "device clock off"),
}

#: Check-in answers (``type=checkin`` rows: what the resident said, not what a device saw), by
#: ``answer_key``.
ANSWERS: Mapping[str, Label] = {
    "checkin_ok": Label("回复平安", "answered: well"),
    "checkin_help": Label("回复求助", "answered: needs help"),
    "checkin_no_answer": Label("确认电话无人应答", "check-in call unanswered"),
}


#: How a check-in stands (``dispatch.checkins.CheckinState``), by ``checkin_<state>``: the console's lane.
CHECKIN_STATES: Mapping[str, Label] = {
    "checkin_calling": Label("正在确认", "asking the resident"),
    "checkin_ok": Label("已回复平安", "answered: well"),
    "checkin_help": Label("已回复求助", "answered: needs help"),
    "checkin_unanswered": Label("无人应答，已转值班", "unanswered: operators paged"),
    "checkin_sign_of_life": Label("已检测到活动", "closed by a sign of life"),
}


def answer_key(answer: CheckinAnswer) -> str:
    """The ``ANSWERS`` row of a check-in answer."""
    return f"checkin_{answer.value}"


#: The engine's location classes (``anju.engine.learn.LOCATIONS``), where the resident was last seen.
ROOMS: Mapping[str, Label] = {
    "bedroom": Label("卧室", "bedroom"),
    "bathroom": Label("卫生间", "bathroom"),
    "kitchen": Label("厨房", "kitchen"),
    "living": Label("客厅", "living room"),
    "entrance": Label("门口", "entrance"),
    "other": Label("其他位置", "elsewhere"),
    "unknown": Label("未知", "unknown"),
    # Rooms installers and the simulator's layouts name that the engine counts as "other" or "living".
    "hallway": Label("走廊", "hallway"),
    "second_bedroom": Label("次卧", "second bedroom"),
}

#: Other spellings of a room (a device's ``location`` as installed) -> its row in ``ROOMS``.
ROOM_ALIASES: Mapping[str, str] = {
    "living_room": "living",
    "bed_room": "bedroom",
    "master_bedroom": "bedroom",
    "front_door": "entrance",
    "hall": "hallway",
}

#: The escalation steps of ``rules/escalation.toml`` and the fallback policy.
STEPS: Mapping[str, Label] = {
    "notify_duty": Label("通知值班台和值班手机", "tell the duty desk and duty phone"),
    "sms_duty_phone": Label("短信通知值班手机", "SMS to the duty phone"),
    "call_supervisor": Label("电话呼叫值班主管", "call the on-call supervisor"),
    "call_contacts": Label("依次电话呼叫紧急联系人", "call the contacts in turn"),
    "sms_contacts": Label("短信通知紧急联系人", "SMS to the contacts"),
}

#: The alarm path's health checks (``anju.health.monitor.CHECKS``) as a page and the console's
#: banner name a failing one; ``service`` is the console's own: the service does not answer it.
CHECKS: Mapping[str, Label] = {
    "database": Label("数据库无法访问", "database unreachable"),
    "mqtt": Label("MQTT 消息服务器未连接", "MQTT broker not connected"),
    "ingest": Label("数据入库停滞", "ingest has stopped storing messages"),
    "canary": Label("自检消息未按时入库", "self-test canary not stored in time"),
    "service": Label("无法连接安居服务", "the Anju service does not answer"),
}

#: The channels a notification goes out on (``anju.domain.Channel``).
CHANNELS: Mapping[str, Label] = {
    Channel.SMS: Label("短信", "SMS"),
    Channel.VOICE: Label("语音电话", "voice call"),
    Channel.DINGTALK: Label("钉钉", "DingTalk"),
    Channel.GROUP: Label("片区群", "area group chat"),
    Channel.CONSOLE: Label("值班台", "console"),
}

#: A device's state as the console shows it; "never" is a device registered that has not reported yet.
DEVICE_STATUSES: Mapping[str, Label] = {
    "online": Label("在线", "online"),
    "offline": Label("离线", "offline"),
    "never": Label("从未上报", "never reported"),
}

#: How the resident gets about: what a responder must bring or expect at the door.
MOBILITY: Mapping[str, Label] = {
    "independent": Label("行动自如", "walks unaided"),
    "walking_aid": Label("需拐杖或助行器", "walks with a stick or frame"),
    "wheelchair": Label("轮椅", "uses a wheelchair"),
    "bedridden": Label("卧床", "bedridden"),
}

#: How well the resident hears: how the operator must speak on the phone.
HEARING: Mapping[str, Label] = {
    "normal": Label("听力正常", "hears well"),
    "hard_of_hearing": Label("听力较弱，请大声慢说", "hard of hearing: speak loudly and slowly"),
    "deaf": Label("听不见电话，请联系家属或上门", "cannot hear the phone: call family or visit"),
}

#: Posts and groups a notification or a login names instead of a person, stored in Chinese (as a
#: center enters them); the English console renders them from here, a person's own name as entered.
TITLES: Mapping[str, Label] = {
    "值班坐席": Label("值班坐席", "duty operators"),
    "值班手机": Label("值班手机", "duty phone"),
    "值班主管": Label("值班主管", "on-call supervisor"),
    "值班员": Label("值班员", "duty operator"),
    "管理员": Label("管理员", "administrator"),
    "网格员": Label("网格员", "grid worker"),
    CHANNELS[Channel.GROUP].zh: CHANNELS[Channel.GROUP],  # the area's group chat, as a recipient
    "家属/联系人": Label("家属/联系人", "household contacts"),
}

#: Each table under the prefix the console catalog knows it by (``rule.door_left_open``).
TABLES: Mapping[str, Mapping[str, Label]] = {
    "rule": RULES,
    "severity": SEVERITIES,
    "kind": DEVICE_KINDS,
    "event": EVENTS,
    "answer": ANSWERS,
    "checkin_state": CHECKIN_STATES,
    "location": ROOMS,
    "step": STEPS,
    "health.check": CHECKS,
    "channel": CHANNELS,
    "device": DEVICE_STATUSES,
    "mobility": MOBILITY,
    "hearing": HEARING,
}


def is_chinese(language: str | None) -> bool:
    """``zh``, ``zh-CN``, ``zh-Hans``… read Chinese; every other code reads English."""
    return (language or "").lower().startswith("zh")


def word(table: Mapping[str, Label], value: str, language: str | None) -> str:
    """The label of ``value`` in ``language``; the value itself when the table has no row for it."""
    label = table.get(value)
    if label is None:
        return value
    return label.zh if is_chinese(language) else label.en


def rule_word(rule: str, language: str | None) -> str:
    return word(RULES, rule, language)


def severity_word(severity: str, language: str | None) -> str:
    return word(SEVERITIES, severity, language)


def room_word(location: str, language: str | None) -> str:
    """A room (``living_room``, ``bedroom``) in words; free text an installer typed (卧室床头) as-is."""
    key = location.strip().lower().replace("-", "_").replace(" ", "_")
    return word(ROOMS, ROOM_ALIASES.get(key, key), language) if key else location


def title_word(name: str, language: str | None) -> str:
    """A post (值班主管) in ``language``; any other name (a person's, a post a center adds) as-is."""
    return word(TITLES, name.strip(), language) if name else name


def step_word(name: str, language: str | None) -> str:
    """An escalation step as the timeline names it: ``call_contacts#2`` is the second contact's call,
    ``…:unreachable`` the record that a target had no number."""
    base, _, suffix = name.partition(":")
    step, _, nth = base.partition("#")
    text = word(STEPS, step, language)
    chinese = is_chinese(language)
    if nth.isdigit():
        text += f"（第 {nth} 位）" if chinese else f" (contact {nth})"
    if suffix == "unreachable":
        text += "：无法联系" if chinese else ": unreachable"
    elif suffix:
        text += f":{suffix}"
    return text


def catalog() -> dict[str, tuple[str, str]]:
    """Every row as a console catalog entry: ``"rule.button" -> (zh, en)``."""
    return {
        f"{prefix}.{value}": (label.zh, label.en)
        for prefix, table in TABLES.items()
        for value, label in table.items()
    }
