"""The payload checks both protocols share: size, UTF-8 JSON object (unique names, bounded depth, no
NUL or lone surrogates), timestamps, and how a refused value is shown in a reason."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from anju.errors import DecodeError

MAX_PAYLOAD: Final = 4096
RSSI_RANGE: Final = (-200, 300)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})")
#: Epoch milliseconds accepted: 1970-01-01 up to the year 9999.
_EPOCH_MS_MAX: Final = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How deep a payload's JSON may nest: the contract's objects are flat; a bomb is refused unparsed.
_JSON_DEPTH_MAX: Final = 32


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD:
        raise DecodeError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(payload: bytes) -> dict[str, Any]:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"payload is not UTF-8 text (bad byte at offset {err.start})") from err
    if not text.strip():
        raise DecodeError("payload is empty: expected a JSON object")
    check_depth(text)
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as err:
        raise DecodeError(f"payload is not valid JSON: {err}") from err
    if not isinstance(obj, dict):
        raise DecodeError(f"payload must be a JSON object, got {json_type(obj)}")
    # NUL and lone surrogates can only arrive as \u escapes (raw ones are not valid JSON text or
    # UTF-8), so the walk runs only for the rare payload that has an escape at all.
    if "\\u" in text:
        _check_text(obj)
    return obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique: parsers disagree on which duplicate wins (smuggling)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = key if len(key) <= 40 else key[:40] + "…"
                raise DecodeError(f"field '{shown}' appears more than once: field names must be unique")
            seen.add(key)
    return obj


def check_depth(text: str) -> None:
    """Refuse nesting deeper than the contract needs before parsing (a bomb recurses in json)."""
    if text.count("[") + text.count("{") <= _JSON_DEPTH_MAX:
        return
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > _JSON_DEPTH_MAX:
                raise DecodeError(f"payload nests deeper than {_JSON_DEPTH_MAX} levels")
        elif ch in "]}":
            depth -= 1


def _check_text(value: object, path: str = "") -> None:
    """Refuse NUL and lone surrogates in any string or key: no database stores them as text."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            raise DecodeError(f"field '{path or '?'}': text holds NUL or a lone surrogate (\\u0000, \\ud800)")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or not _encodable(key):
                raise DecodeError("a field name holds NUL or a lone surrogate (\\u0000, \\ud800)")
            _check_text(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{path}[{i}]")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def timestamp(value: object, name: str) -> datetime:
    expected = f"field '{name}': expected RFC 3339 time with offset or integer epoch milliseconds"
    if value is MISSING:
        raise DecodeError(f"field '{name}' is missing")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= _EPOCH_MS_MAX:
            raise DecodeError(f"{expected}, got {value} (outside 1970..9999)")
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        if not _RFC3339.fullmatch(value):
            hint = " (no UTC offset)" if re.fullmatch(r"[\d\-]{10}[Tt ][\d:.]+", value) else ""
            raise DecodeError(f"{expected}, got {shown(value)}{hint}")
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError) as err:
            raise DecodeError(f"{expected}, got {shown(value)} ({err})") from err
    raise DecodeError(f"{expected}, got {shown(value)}")


def shown(value: object) -> str:
    """A value's type and, when short, the value itself: ``string "12"``, ``integer 4294967296``."""
    kind = json_type(value)
    if isinstance(value, (dict, list)) or value is None:
        return kind
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 40:
        text = text[:40] + "…"
    return f"{kind} {text}"
