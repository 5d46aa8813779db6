"""The console's message catalog (zh-CN first, English second) and language choice.

The catalog's entries live by screen in this package's modules; the shared vocabulary (rules,
severities, kinds, events, rooms, steps) comes from ``anju.vocabulary``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from anju import vocabulary
from anju.console.i18n import frame, households, incidents, reports, resident, responder, shift, values

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "anju_lang"

log = logging.getLogger(__name__)

#: key -> (zh-CN, English). Placeholders use str.format names; both languages carry the same ones.
CATALOG: dict[str, tuple[str, str]] = {
    **frame.ENTRIES,
    **values.ENTRIES,
    **incidents.ENTRIES,
    **households.ENTRIES,
    **reports.ENTRIES,
    **responder.ENTRIES,
    **shift.ENTRIES,
    **resident.ENTRIES,
}
CATALOG.update(vocabulary.catalog())

#: Keys the browser scripts use; sent to the page as JSON.
JS_PREFIXES = (
    "queue.",
    "dur.",
    "action.",
    "severity.",
    "state.",
    "rule.",
    "outcome.",
    "import.",
    "common.",
    "error.",
    "health.",
    "resident.",
    "script.",
    "edit.",
)


def translate(lang: str, key: str, **params: Any) -> str:
    """The text for ``key`` in ``lang``; a missing key shows itself (and is logged) instead of crashing."""
    entry = CATALOG.get(key)
    if entry is None:
        log.warning("console catalog has no key %r", key)
        return key
    text = entry[0] if lang == "zh-CN" else entry[1]
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        log.warning("console catalog key %r does not take %r", key, sorted(params))
        return text


def translate_or(lang: str, prefix: str, value: str) -> str:
    """A catalog word for free-ish values (relations, timeline kinds); the value itself when unknown."""
    key = f"{prefix}.{value}"
    return translate(lang, key) if key in CATALOG else value


def js_catalog(lang: str) -> dict[str, str]:
    """The part of the catalog the page scripts need, in one language."""
    index = 0 if lang == "zh-CN" else 1
    return {k: v[index] for k, v in CATALOG.items() if k.startswith(JS_PREFIXES)}


def normalize(value: str | None) -> str | None:
    """A supported language for ``value`` (``en``, ``en-US``, ``zh``, ``zh-CN``…), else None."""
    if not value:
        return None
    low = value.strip().lower()
    if low.startswith("zh"):
        return "zh-CN"
    if low.startswith("en"):
        return "en"
    return None


def pick_language(request: Request, fallback: str | None = None) -> str:
    """``?lang=`` first, then the cookie, then the user's own setting, then zh-CN."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), fallback):
        lang = normalize(candidate)
        if lang:
            return lang
    return DEFAULT_LANGUAGE


def languages_of(catalog: Mapping[str, tuple[str, str]] = CATALOG) -> dict[str, int]:
    """How many keys each language fills (for tests and the docs)."""
    return {lang: sum(1 for v in catalog.values() if v[i].strip()) for i, lang in enumerate(LANGUAGES)}
