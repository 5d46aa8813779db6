"""Short message bodies for the outbox, in the recipient's language (zh-CN, English otherwise)."""

from __future__ import annotations

from dataclasses import dataclass

RULE_NAMES_ZH = {
    "button": "紧急按钮报警",
    "inactivity": "长时间无活动",
    "no_morning_activity": "早晨无活动",
    "night_door": "夜间外出",
    "not_returned": "外出未归",
    "door_left_open": "门长时间未关",
    "routine_anomaly": "作息异常",
    "device_offline": "设备离线",
    "low_battery": "电量低",
    "tamper": "设备被拆",
}
RULE_NAMES_EN = {
    "button": "alarm button pressed",
    "inactivity": "no activity for too long",
    "no_morning_activity": "no morning activity",
    "night_door": "left home at night",
    "not_returned": "has not returned home",
    "door_left_open": "door left open",
    "routine_anomaly": "unusual routine",
    "device_offline": "device offline",
    "low_battery": "low battery",
    "tamper": "device tampered with",
}
SEVERITY_ZH = {"critical": "紧急", "high": "高", "medium": "中", "low": "低"}


@dataclass(frozen=True, kw_only=True)
class IncidentFacts:
    incident_id: int
    household_name: str
    address: str
    rule: str
    severity: str


def _zh(language: str) -> bool:
    return language.lower().startswith("zh")


def alarm(facts: IncidentFacts, language: str) -> str:
    """The escalation message: what happened, where, which incident."""
    if _zh(language):
        return (
            f"【安居】{SEVERITY_ZH.get(facts.severity, facts.severity)}级警报："
            f"{facts.household_name}（{facts.address}）{RULE_NAMES_ZH.get(facts.rule, facts.rule)}。"
            f"事件#{facts.incident_id}，尚无人响应，请立即处理。"
        )
    return (
        f"[Anju] {facts.severity.upper()} alert: {facts.household_name} ({facts.address}), "
        f"{RULE_NAMES_EN.get(facts.rule, facts.rule)}. Incident #{facts.incident_id} is not yet "
        f"acknowledged; please respond now."
    )


def dispatch_request(facts: IncidentFacts, language: str) -> str:
    """The message to the responder sent on site."""
    if _zh(language):
        return (
            f"【安居】请立即上门：{facts.household_name}（{facts.address}），"
            f"{RULE_NAMES_ZH.get(facts.rule, facts.rule)}。事件#{facts.incident_id}，到达后请告知中心。"
        )
    return (
        f"[Anju] Please go now to {facts.household_name} ({facts.address}): "
        f"{RULE_NAMES_EN.get(facts.rule, facts.rule)}. Incident #{facts.incident_id}; "
        f"tell the center when you arrive."
    )


def unreachable(who: str, language: str) -> str:
    """Said on the console when a step has nobody to reach (no number on file)."""
    if _zh(language):
        return f"【安居】无法联系{who}：未登记电话号码，请人工处理。"
    return f"[Anju] Cannot reach {who}: no phone number on file; please act by hand."
