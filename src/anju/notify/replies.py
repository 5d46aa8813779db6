"""Reading a key press or SMS reply: 1 / 收到 / OK accepts, 2 declines, anything else is to be read.

What a decision does to the incident is dispatch's (``anju.dispatch.replies``); notify only reads.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Decision(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


_ACCEPT = {"1", "ok", "okay", "yes", "y", "收到", "好", "好的", "确认", "接警", "是"}
_DECLINE = {"2", "no", "n", "拒绝", "不", "不能", "没空"}


def parse_reply(text: str) -> Decision | None:
    """The decision in an SMS reply or key press; None when it is something else to read."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    folded = re.sub(r"[\s。.!！,，、~]+$", "", folded)
    if folded in _ACCEPT:
        return Decision.ACCEPT
    if folded in _DECLINE:
        return Decision.DECLINE
    return None
