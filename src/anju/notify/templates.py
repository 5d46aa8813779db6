"""Message text in zh-CN and English: who, where, what, when and how to answer — nothing more.

The responder needs the household, its address, the rule and the time to act; residents' ages,
health notes and other contacts' numbers stay in the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from anju.vocabulary import rule_word, severity_word


class Lang(StrEnum):
    ZH = "zh-CN"
    EN = "en-US"


def language_of(code: str | None) -> Lang:
    """Contacts store free-form codes (``zh-CN``, ``zh``, ``en``, ``en-GB``); Chinese is the default."""
    return Lang.EN if (code or "").lower().startswith("en") else Lang.ZH


@dataclass(frozen=True, kw_only=True)
class AlertFacts:
    """The minimum a responder needs to act on an incident."""

    household: str
    address: str
    rule: str
    severity: str
    at: datetime
    timezone: str
    #: True once the center has acknowledged: the message asks the recipient to visit.
    visit_request: bool = False
    #: The household's area (district/town/village): which area's group chat hears of it.
    area: str = ""
    #: The incident's page on the console (``ANJU_PUBLIC_URL`` + path), or None without a public URL.
    incident_url: str | None = None


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang is Lang.ZH else pair[1]


def _rule_text(rule: str, lang: Lang) -> str:
    return rule_word(rule, lang)


def _severity_text(severity: str, lang: Lang) -> str:
    return severity_word(severity, lang)


def _when(facts: AlertFacts, lang: Lang) -> str:
    local = facts.at.astimezone(ZoneInfo(facts.timezone))
    if lang is Lang.ZH:
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b} {local:%H:%M}"


def sms_text(facts: AlertFacts, lang: Lang) -> str:
    """The SMS body (the outbox appends the reference ``#id`` it reconciles by)."""
    sev, what, when = _severity_text(facts.severity, lang), _rule_text(facts.rule, lang), _when(facts, lang)
    where = facts.address or ("地址未登记" if lang is Lang.ZH else "address not on file")
    if lang is Lang.ZH:
        ask = "回复1确认上门" if facts.visit_request else "回复1接警"
        return f"【安居】{sev}：{facts.household}（{where}）{what}，{when}。{ask}，回复2转下一位联系人。"
    ask = "Reply 1 to accept the visit" if facts.visit_request else "Reply 1 to accept"
    return (
        f"[Anju] {sev.upper()}: {facts.household} ({where}): {what}, {when}. "
        f"{ask}, 2 to pass to the next contact."
    )


def voice_text(facts: AlertFacts, lang: Lang) -> str:
    """What the call says before gathering one key."""
    what, when = _rule_text(facts.rule, lang), _when(facts, lang)
    if lang is Lang.ZH:
        where = f"地址：{facts.address}。" if facts.address else ""
        ask = "确认上门请按1" if facts.visit_request else "接警请按1"
        return (
            f"这里是安居守护中心，{_severity_text(facts.severity, lang)}通知。{facts.household}，{what}，"
            f"时间{when}。{where}{ask}，转给下一位联系人请按2。"
        )
    where = f"The address is {facts.address}. " if facts.address else ""
    ask = "To accept the visit, press 1" if facts.visit_request else "To accept, press 1"
    return (
        f"This is the Anju care center with a {_severity_text(facts.severity, lang)} alert. "
        f"{facts.household}: {what}, at {when}. {where}{ask}. To pass it to the next contact, press 2."
    )


def group_text(facts: AlertFacts, lang: Lang) -> str:
    """A group chat post: what, where, when, and the incident's page for whoever picks it up."""
    sev, what, when = _severity_text(facts.severity, lang), _rule_text(facts.rule, lang), _when(facts, lang)
    where = facts.address or ("地址未登记" if lang is Lang.ZH else "address not on file")
    if lang is Lang.ZH:
        text = f"【安居】{sev}：{facts.household}（{where}）{what}，{when}。请在值班台接警。"
        return text + (f"\n事件详情：{facts.incident_url}" if facts.incident_url else "")
    text = (
        f"[Anju] {sev.upper()}: {facts.household} ({where}): {what}, {when}. Please respond on the console."
    )
    return text + (f"\nIncident: {facts.incident_url}" if facts.incident_url else "")


def group_markdown(facts: AlertFacts, lang: Lang) -> str:
    """The same post as markdown (WeCom's robot), with the incident's page as a link."""
    sev, what, when = _severity_text(facts.severity, lang), _rule_text(facts.rule, lang), _when(facts, lang)
    zh = lang is Lang.ZH
    where = facts.address or ("地址未登记" if zh else "address not on file")
    if zh:
        lines = [
            f"## 【安居】{sev}：{what}",
            f"> 住户：**{facts.household}**",
            f"> 地址：{where}",
            f"> 时间：{when}",
        ]
        lines += [f"> 片区：{facts.area}"] if facts.area else []
        link = f"[打开事件，接警处置]({facts.incident_url})" if facts.incident_url else "请在值班台接警。"
    else:
        lines = [f"## [Anju] {sev.upper()}: {what}", f"> Household: **{facts.household}**"]
        lines += [f"> Address: {where}", f"> Time: {when}"]
        lines += [f"> Area: {facts.area}"] if facts.area else []
        link = (
            f"[Open the incident to respond]({facts.incident_url})"
            if facts.incident_url
            else "Please respond on the console."
        )
    return "\n".join([*lines, "", link])


#: Spoken or sent back after a key press or SMS reply.
REPLY_TEXT: dict[str, tuple[str, str]] = {
    "acknowledged": (
        "已确认接警，谢谢。请尽快联系或上门查看。",
        "Accepted, thank you. Please check on them.",
    ),
    "dispatched": ("已确认由您上门处置，谢谢。", "Thank you: you are now the responder for this visit."),
    "already": ("此事件已有人处理，谢谢。", "Someone is already handling this, thank you."),
    "declined": ("已转给下一位联系人。", "Passed to the next contact."),
    "closed": ("此事件已结束，谢谢。", "This incident is already closed, thank you."),
    "help": ("请回复1接警，或回复2转下一位联系人。", "Reply 1 to accept, or 2 to pass to the next contact."),
    "no_input": ("未收到按键，再见。", "No key was pressed. Goodbye."),
}


def reply_text(key: str, lang: Lang) -> str:
    return _pick(REPLY_TEXT[key], lang)
