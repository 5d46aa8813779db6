"""The one source of time: real for the service, simulated for replay, simulation and tests."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utc(dt: datetime) -> datetime:
    """The same instant as an aware UTC datetime; naive input is refused."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: every time in Anju carries an offset")
    return dt.astimezone(UTC)


class Clock(Protocol):
    """What Anju asks of time."""

    def now(self) -> datetime:
        """The current instant, aware, UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class RealClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """A clock that moves only when told to, or ``speed`` times faster than real time."""

    def __init__(self, start: datetime, *, speed: float | None = None) -> None:
        self._now = utc(start)
        self._speed = speed
        self._anchor_real = time.monotonic()
        self._anchor_sim = self._now

    def now(self) -> datetime:
        if self._speed is None:
            return self._now
        elapsed = (time.monotonic() - self._anchor_real) * self._speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (never backwards)."""
        instant = utc(instant)
        if instant < self.now():
            raise ValueError("a clock does not run backwards")
        self._now = instant
        self._anchor_sim = instant
        self._anchor_real = time.monotonic()

    def advance(self, seconds: float) -> datetime:
        self.set(self.now() + timedelta(seconds=seconds))
        return self._now

    async def sleep(self, seconds: float) -> None:
        if self._speed is None:
            self.advance(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(max(0.0, seconds) / self._speed)


def parse_ts(value: str | int | float) -> datetime:
    """An RFC 3339 string with offset, or integer epoch milliseconds, as aware UTC."""
    if isinstance(value, bool):
        raise ValueError("ts must be an RFC 3339 string or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000.0, UTC)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def isoformat(dt: datetime) -> str:
    """RFC 3339 with offset and milliseconds."""
    return utc(dt).isoformat(timespec="milliseconds")
