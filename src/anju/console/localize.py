"""Free text in the console's language: a record's rendering for it, else the text as entered.

Names, addresses and notes are entered once (usually in Chinese); ``translations`` may hold a
rendering per language (``{"en": {"name": "Wang Guiying"}}``), so the English console shows
"Wang Guiying" and never both in one field.
"""

from __future__ import annotations

from typing import Any


def localized(record: Any, field: str, lang: str) -> str:
    """``record.field`` in ``lang`` when a rendering exists, else as stored ("" for None).

    ``record`` may be a mapping too (a timeline entry's data).
    """

    def get(name: str, default: Any) -> Any:
        return record.get(name, default) if isinstance(record, dict) else getattr(record, name, default)

    translations = get("translations", None) or {}
    for key in (lang, lang.split("-", 1)[0]):
        rendering = translations.get(key)
        if isinstance(rendering, dict) and rendering.get(field):
            return str(rendering[field])
    value = get(field, "")
    return "" if value is None else str(value)
