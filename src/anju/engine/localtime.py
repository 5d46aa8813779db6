"""Event time as epoch seconds, and the household's local clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from anju.clock import isoformat

#: "Not set" for a time (epoch seconds); no real event is at 1970-01-01.
UNSET = -1.0
INF = float("inf")
NAN = float("nan")


def iso(t: float) -> str:
    return isoformat(datetime.fromtimestamp(t, UTC))


def local(tz: ZoneInfo, t: float) -> datetime:
    return datetime.fromtimestamp(t, tz)


def at_local(tz: ZoneInfo, day: date, minute: int) -> float:
    minute = min(max(minute, 0), 1439)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).timestamp()


def next_local(tz: ZoneInfo, t: float, minute: int) -> float:
    """The first instant strictly after ``t`` when the local clock shows ``minute``."""
    day = local(tz, t).date()
    cand = at_local(tz, day, minute)
    if cand <= t:
        cand = at_local(tz, day + timedelta(days=1), minute)
    return cand
