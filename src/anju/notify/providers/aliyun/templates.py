"""The template texts Anju registers with Aliyun, and the parameters it fills them with.

Mainland SMS and TTS calls may only carry approved templates (模板): the texts below are what a
deployment submits for approval (docs/notifications.md), in zh-CN and English; the codes Aliyun
gives back go into ``ANJU_ALIYUN_*_TEMPLATE_*``. Variables stay short (Aliyun caps each one), so
a long address is cut; the reference ``ref`` ties a reply or receipt to its outbox row.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from anju.notify.provider import Outgoing
from anju.notify.templates import AlertFacts, Lang, language_of
from anju.vocabulary import rule_word, severity_word

#: Aliyun's limit for one variable of a notification template.
VARIABLE_LIMIT = 35

#: (template, zh-CN text, English text) to register; ``${...}`` are the variables filled below.
TEMPLATE_TEXTS: dict[str, tuple[str, str]] = {
    "sms_alert": (
        "${sev}：${home}（${addr}）${what}，${when}。回复1接警，回复2转下一位联系人。#${ref}",
        "${sev}: ${home} (${addr}): ${what}, ${when}. "
        "Reply 1 to accept, 2 to pass to the next contact. #${ref}",
    ),
    "sms_notice": ("安居通知：${msg} #${ref}", "Anju notice: ${msg} #${ref}"),
    "voice_alert": (
        "这里是安居守护中心，${sev}通知。${home}，${what}，时间${when}。地址：${addr}。"
        "接警或报平安请按1，转给下一位联系人请按2，需要帮助请按9。",
        "This is the Anju care center with a ${sev} alert. ${home}: ${what}, at ${when}. "
        "The address is ${addr}. Press 1 to accept or if you are well, 2 to pass it on, 9 for help.",
    ),
    "voice_notice": ("这里是安居守护中心：${msg}", "This is the Anju care center: ${msg}"),
    "voice_key_1": ("已确认，谢谢。", "Confirmed, thank you."),
    "voice_key_2": ("已转给下一位联系人。", "Passed to the next contact."),
    "voice_key_9": ("已通知守护中心，请保持电话畅通。", "The care center has been told. Keep your phone on."),
    # The resident check-in (issue 13): the same words as the Twilio call and SMS (checkin_script).
    "sms_checkin": (
        "${name}您好，安居守护中心想确认您是否平安：平安请回复1，需要帮助请回复9。",
        "Hello ${name}, the Anju care center is checking that you are well: "
        "reply 1 if you are well, 9 for help.",
    ),
    "voice_checkin": (
        "这里是安居守护中心，${name}您好，我们想确认您是否平安。平安请按1，需要帮助请按9。",
        "This is the Anju care center. Hello ${name}, we are checking that you are well. "
        "If you are well, press 1. If you need help, press 9.",
    ),
    "voice_checkin_key_1": ("谢谢，已记录您平安。", "Thank you, we have noted that you are well."),
    "voice_checkin_key_9": (
        "已通知守护中心，马上有人联系您，请保持电话畅通。",
        "The care center has been told; someone will call you now. Keep your phone on.",
    ),
}
#: The keys of a check-in call: 1 = well, 9 = help (2 means nothing to a check-in).
CHECKIN_KEYS = ("1", "9")


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= VARIABLE_LIMIT else text[: VARIABLE_LIMIT - 1] + "…"


def _when(facts: AlertFacts, lang: Lang) -> str:
    local = facts.at.astimezone(ZoneInfo(facts.timezone))
    return (
        f"{local.month}月{local.day}日 {local:%H:%M}"
        if lang is Lang.ZH
        else f"{local.day} {local:%b} {local:%H:%M}"
    )


def alert_params(facts: AlertFacts, message: Outgoing) -> dict[str, str]:
    """Variables of ``sms_alert`` and ``voice_alert`` for one row."""
    lang = language_of(message.language)
    return {
        "sev": severity_word(facts.severity, lang),
        "home": _cut(facts.household),
        "addr": _cut(facts.address or ("地址未登记" if lang is Lang.ZH else "address not on file")),
        "what": _cut(rule_word(facts.rule, lang)),
        "when": _when(facts, lang),
        "ref": str(message.notification_id),
    }


def notice_params(message: Outgoing) -> dict[str, str]:
    """Variables of the notice templates: the row's own text, cut to what Aliyun accepts."""
    text = (
        message.body.rsplit(" #", 1)[0]
        if message.body.rstrip().endswith(f"#{message.notification_id}")
        else message.body
    )
    return {"msg": _cut(text), "ref": str(message.notification_id)}


def checkin_params(message: Outgoing) -> dict[str, str]:
    """Variables of ``sms_checkin`` and ``voice_checkin``: whom the check-in asks."""
    lang = language_of(message.language)
    name = (message.recipient or "").strip() or ("居民" if lang is Lang.ZH else "there")
    return {"name": _cut(name)}


def text_of(kind: str, lang: Lang) -> str:
    zh, en = TEMPLATE_TEXTS[kind]
    return zh if lang is Lang.ZH else en
