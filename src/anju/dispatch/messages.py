"""Short message bodies for the outbox, in the recipient's language (zh-CN, English otherwise)."""

from __future__ import annotations

from dataclasses import dataclass

from anju.vocabulary import rule_word, severity_word, title_word


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
            f"【安居】{severity_word(facts.severity, language)}警报："
            f"{facts.household_name}（{facts.address}）{rule_word(facts.rule, language)}。"
            f"事件#{facts.incident_id}，尚无人响应，请立即处理。"
        )
    return (
        f"[Anju] {severity_word(facts.severity, language).upper()} alert: "
        f"{facts.household_name} ({facts.address}), "
        f"{rule_word(facts.rule, language)}. Incident #{facts.incident_id} is not yet "
        f"acknowledged; please respond now."
    )


def dispatch_request(facts: IncidentFacts, language: str) -> str:
    """The message to the responder sent on site."""
    if _zh(language):
        return (
            f"【安居】请立即上门：{facts.household_name}（{facts.address}），"
            f"{rule_word(facts.rule, language)}。事件#{facts.incident_id}，到达后请告知中心。"
        )
    return (
        f"[Anju] Please go now to {facts.household_name} ({facts.address}): "
        f"{rule_word(facts.rule, language)}. Incident #{facts.incident_id}; "
        f"tell the center when you arrive."
    )


def unreachable(who: str, language: str) -> str:
    """Said on the console when a step has nobody to reach (no number on file)."""
    who = title_word(who, language)
    if _zh(language):
        return f"【安居】无法联系{who}：未登记电话号码，请人工处理。"
    return f"[Anju] Cannot reach {who}: no phone number on file; please act by hand."
