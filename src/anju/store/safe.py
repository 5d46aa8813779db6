"""Text that every database can store: what PostgreSQL or SQLite would refuse is escaped, not lost.

PostgreSQL refuses NUL in ``text`` and ``jsonb``, and asyncpg cannot encode a lone surrogate
(``"\\ud800"``, which Python's ``json.loads`` happily returns). A reason, a topic, a username in an
audit record or any other string that came from outside passes through ``storable`` before it is
written, so one hostile message can never make the write that records it fail.
"""

from __future__ import annotations

from typing import Any

#: What ``storable`` puts in place of NUL (visible, and never mistaken for a real character).
NUL_ESCAPE = "\\x00"


def storable(text: str, *, limit: int | None = None) -> str:
    """``text`` with lone surrogates as ``\\udXXX`` escapes and NUL as ``\\x00``, cut to ``limit``."""
    if text.isascii():
        out = text.replace("\x00", NUL_ESCAPE) if "\x00" in text else text
    else:
        out = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", NUL_ESCAPE)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def storable_json(value: Any, *, depth: int = 32) -> Any:
    """A JSON-able value with every string (keys too) made ``storable``; nesting past ``depth`` cut."""
    if isinstance(value, str):
        return storable(value)
    if depth <= 0:
        return "…"
    if isinstance(value, dict):
        return {storable(str(k)): storable_json(v, depth=depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v, depth=depth - 1) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)  # NaN and infinities are not JSON
    return value
