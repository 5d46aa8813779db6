"""Phone numbers as Twilio wants them (E.164), so replies can be matched to the people we paged."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d+")


def normalize_phone(raw: str, *, default_country: str = "86") -> str:
    """E.164 form of ``raw``: separators dropped, ``00`` read as ``+``, bare mainland mobiles get +86."""
    text = raw.strip()
    digits = "".join(_DIGITS.findall(text))
    if not digits:
        return text
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    # A bare 11-digit number starting with 1 is a mainland China mobile (138 0013 8000).
    if default_country == "86" and len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits
    return "+" + digits


def mask_phone(number: str) -> str:
    """Enough of a number to recognise it in a log, not enough to dial it."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 7) + number[-3:]
