"""What a check-in says to the resident, and how their key, word or SMS reply is read.

A check-in's outbox rows carry ``step = "checkin:<id>:<attempt>"`` (a failover copy's step names the
row it copies, which names the check-in); whether to call again is the check-in's own schedule
(``dispatch.checkins``), never notify's fallback to the next contact.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju.domain import CheckinAnswer
from anju.notify.templates import Lang
from anju.store.models import Notification

CHECKIN_STEP = "checkin:"
#: Keys of a check-in call (the Aliyun IVR's 1 and 9 mean the same).
OK_KEY, HELP_KEY = "1", "9"

_OK = {
    "1",
    "一",
    "壹",
    "one",
    "ok",
    "okay",
    "yes",
    "y",
    "fine",
    "well",
    "好",
    "好的",
    "平安",
    "我很好",
    "没事",
    "是",
}
_HELP = {"9", "九", "玖", "nine", "help", "救命", "求助", "帮助", "需要帮助", "sos", "不好"}

_SCRIPT = {
    Lang.ZH: (
        "这里是安居守护中心，{name}您好，我们想确认您是否平安。"
        "平安请按1，需要帮助请按9。也可以直接说“平安”或“救命”。"
    ),
    Lang.EN: (
        "This is the Anju care center. Hello {name}, we are checking that you are well. "
        "If you are well, press 1. If you need help, press 9. You can also say 'well' or 'help'."
    ),
}
_SMS = {
    Lang.ZH: "【安居】{name}您好，守护中心想确认您是否平安：平安请回复1，需要帮助请回复9。",
    Lang.EN: (
        "[Anju] Hello {name}, the care center is checking that you are well: "
        "reply 1 if you are well, 9 for help."
    ),
}
_REPLY = {
    CheckinAnswer.OK: ("谢谢，已记录您平安。", "Thank you, we have noted that you are well."),
    CheckinAnswer.HELP: (
        "已通知守护中心，马上有人联系您，请保持电话畅通。",
        "The care center has been told; someone will call you now. Keep your phone on.",
    ),
}
_AGAIN = (
    "没有听清。平安请按1，需要帮助请按9。",
    "Sorry, we did not get that. Press 1 if you are well, 9 for help.",
)
_CLOSED = ("谢谢，此次确认已结束。", "Thank you, this check-in has ended.")
_NO_INPUT = ("未收到回复，稍后我们会再联系您。", "We did not hear an answer; we will call again shortly.")


def checkin_step(checkin_id: int, attempt: int) -> str:
    return f"{CHECKIN_STEP}{checkin_id}:{attempt}"


def checkin_of_step(step: str | None) -> int | None:
    """The check-in id a row's ``step`` names, or None for a row of anything else."""
    if not step or not step.startswith(CHECKIN_STEP):
        return None
    head = step[len(CHECKIN_STEP) :].split(":", 1)[0]
    return int(head) if head.isdigit() else None


async def checkin_of_row(session: AsyncSession, row: Notification) -> int | None:
    """The check-in an outbox row asks for (following a failover copy to its original)."""
    step = row.step or ""
    for _hop in range(3):
        found = checkin_of_step(step)
        if found is not None:
            return found
        if not step.startswith("failover:") or not step[9:].isdigit():
            return None
        step = await session.scalar(select(Notification.step).where(Notification.id == int(step[9:]))) or ""
    return None


def voice_script(name: str, lang: Lang) -> str:
    return _SCRIPT[lang].format(name=name or ("您" if lang is Lang.ZH else "there"))


def sms_script(name: str, lang: Lang) -> str:
    return _SMS[lang].format(name=name or ("" if lang is Lang.ZH else "there"))


def reply_words(answer: CheckinAnswer | None, lang: Lang, *, closed: bool = False) -> str:
    """Said or sent back: thanks for an answer, the ending of a closed one, or the keys again."""
    pick = 0 if lang is Lang.ZH else 1
    if closed:
        return _CLOSED[pick]
    if answer is None:
        return _AGAIN[pick]
    return _REPLY[answer][pick] if answer in _REPLY else _CLOSED[pick]


def no_input_words(lang: Lang) -> str:
    return _NO_INPUT[0 if lang is Lang.ZH else 1]


def read_answer(text: str) -> CheckinAnswer | None:
    """``ok`` or ``help`` in a key, a recognised phrase or an SMS reply; None when unclear."""
    folded = unicodedata.normalize("NFKC", text or "").strip().lower()
    folded = re.sub(r"[\s。.!！,，、~?？]+", " ", folded).strip()
    if not folded:
        return None
    if folded in _HELP or any(w in folded for w in ("救命", "求助", "帮助", "help")):
        return CheckinAnswer.HELP
    if folded in _OK or folded.split(" ")[0] in _OK:
        return CheckinAnswer.OK
    return None
