"""The kinds of setting a rule pack holds (durations, local times, day-part tables) and their parsers."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: The day parts every pack names; each starts at a local time and runs to the next one's start.
DAY_PARTS = ("night", "morning", "day", "evening")
NIGHT, MORNING, DAY, EVENING = range(4)

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

#: A section's settings and their kinds: bool, int, float, duration (seconds or "4h30m"), clock
#: ("HH:MM"), parts (a duration, or a table of durations by day part), choice:a,b, list:a,b (a list of
#: some of a, b).
Schema = dict[str, str]


def parse_duration(value: object, where: str) -> int:
    """Seconds from an integer or a text like ``"4h"``, ``"1h30m"``, ``"90s"``."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: a duration must be seconds or text like '4h', not a boolean")
    if isinstance(value, int | float):
        seconds = int(value)
    elif isinstance(value, str) and value.strip() and (m := _DURATION.match(value)):
        d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    else:
        raise ValueError(f"{where}: {value!r} is not a duration (seconds, or text like '4h', '30m')")
    if seconds < 0 or seconds > 7 * 86400:
        raise ValueError(f"{where}: {value!r} must lie between 0 and 7 days")
    return seconds


def parse_clock(value: object, where: str) -> int:
    """Minutes after local midnight from ``"HH:MM"``."""
    if not isinstance(value, str) or not (m := _CLOCK.match(value.strip())):
        raise ValueError(f"{where}: {value!r} is not a local time 'HH:MM'")
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_parts(value: object, where: str) -> tuple[int, ...]:
    """Seconds by day part from a duration or a table of them (a partial table: the first part given)."""
    if isinstance(value, dict):
        fallback = parse_duration(next(iter(value.values())), where) if value else 0
        return tuple(parse_duration(value[p], f"{where}.{p}") if p in value else fallback for p in DAY_PARTS)
    d = parse_duration(value, where)
    return (d, d, d, d)


def check(kind: str, value: object, where: str) -> object:
    """``value`` checked against a setting kind; raises ValueError naming ``where``."""
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected a whole number, got {value!r}")
        if value < 0:
            raise ValueError(f"{where}: must not be negative")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        if value < 0:
            raise ValueError(f"{where}: must not be negative")
        return float(value)
    if kind == "duration":
        parse_duration(value, where)
        return value
    if kind.startswith("choice:"):
        choices = kind.removeprefix("choice:").split(",")
        if value not in choices:
            raise ValueError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    if kind.startswith("list:"):
        allowed = kind.removeprefix("list:").split(",")
        if not isinstance(value, list) or any(v not in allowed for v in value):
            raise ValueError(f"{where}: expected a list of some of {', '.join(allowed)}, got {value!r}")
        return list(value)
    if kind == "clock":
        parse_clock(value, where)
        return value
    if kind == "parts":
        if isinstance(value, Mapping):
            for part, v in value.items():
                if part not in DAY_PARTS:
                    raise ValueError(f"{where}: unknown day part {part!r} (known: {', '.join(DAY_PARTS)})")
                parse_duration(v, f"{where}.{part}")
            return dict(value)
        parse_duration(value, where)
        return value
    raise AssertionError(kind)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
