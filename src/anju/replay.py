"""``anju replay``: the rule engine over an event file, on event time, alerts as JSON lines."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anju.clock import isoformat, parse_ts
from anju.domain import CHECKIN_TYPE, COMMON_EVENTS, CheckinAnswer, DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.model import CheckinReply, DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack
from anju.errors import AnjuError
from anju.kinds import EVENTS_BY_KIND

HEADER = ("ts", "household_id", "device_id", "type", "event", "battery")
_KINDS = {k.value: k for k in DeviceKind}
_EVENTS = {e.value: e for e in EventName}
_ALLOWED = {
    kind: events | COMMON_EVENTS | {EventName.HEARTBEAT, EventName.ONLINE, EventName.OFFLINE}
    for kind, events in EVENTS_BY_KIND.items()
}
#: (type, event) as written in the file -> what the engine is fed; anything else is rejected.
_PAIRS: dict[tuple[str, str], tuple[DeviceKind, EventName]] = {
    (kind.value, event.value): (kind, event) for kind, events in _ALLOWED.items() for event in events
}
_ANSWERS = {a.value: a for a in CheckinAnswer}
#: A row as the engine's fast path takes it: household, device, type, event, epoch seconds, battery.
#: A check-in answer row has no device type (None) and the answer as its event.
Row = tuple[str, str, DeviceKind | None, EventName | CheckinAnswer, float, int | None]


class RowError(ValueError):
    """A row of the event file that cannot be used, with the reason."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=Path, help="event file (CSV: ts,household_id,device_id,type,event,battery)"
    )
    parser.add_argument("--until", default=None, help="advance event time to TS (RFC 3339) at the end")
    parser.add_argument("--rules", type=Path, default=None, help="rule pack (default rules/default.toml)")
    parser.add_argument(
        "--fleet",
        type=Path,
        default=None,
        help="fleet file (JSON from `anju simulate --out`): time zones and heartbeats",
    )
    parser.add_argument(
        "--timezone",
        default="Asia/Shanghai",
        help="time zone of households not in a fleet file (default Asia/Shanghai)",
    )


def load_fleet(path: Path) -> list[HouseholdSpec]:
    """Households and devices from a simulator fleet file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            HouseholdSpec(
                household_id=str(h["id"]),
                timezone=str(h.get("timezone") or "Asia/Shanghai"),
                devices=tuple(
                    DeviceSpec(
                        device_id=str(d["id"]),
                        kind=DeviceKind(d["type"]),
                        location=str(d.get("location") or ""),
                        heartbeat_s=int(d["heartbeat_s"]) if d.get("heartbeat_s") else None,
                        battery_low=int(d.get("battery_low") or 20),
                    )
                    for d in h.get("devices", ())
                ),
                overrides=dict(h.get("rule_overrides") or {}),
            )
            for h in data["households"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise AnjuError(f"{path}: not a usable fleet file: {err}") from err


def parse_row(row: list[str]) -> Observation | CheckinReply:
    """One CSV row as an observation (or a check-in answer); RowError says why it cannot be."""
    if len(row) < 5:
        raise RowError(f"expected 6 columns {','.join(HEADER)}, got {len(row)}")
    ts, hid, dev, kind_s, event_s = row[0], row[1], row[2], row[3], row[4]
    if kind_s == CHECKIN_TYPE:
        return _answer_row(ts, hid, dev, event_s)
    kind = _KINDS.get(kind_s)
    if kind is None:
        raise RowError(f"unknown device type {kind_s!r}")
    event = _EVENTS.get(event_s)
    if event is None or event not in _ALLOWED[kind]:
        raise RowError(f"event {event_s!r} is not one a {kind_s} device sends")
    if not hid or not dev:
        raise RowError("household_id and device_id are required")
    try:
        at = datetime.fromisoformat(ts)
        if at.tzinfo is None:
            raise RowError(f"timestamp {ts!r} has no UTC offset")
    except ValueError as err:
        raise RowError(f"bad timestamp {ts!r}") from err
    battery = None
    if len(row) > 5 and row[5]:
        try:
            battery = int(row[5])
        except ValueError as err:
            raise RowError(f"battery {row[5]!r} is not a whole number") from err
        if not 0 <= battery <= 100:
            raise RowError(f"battery {battery} is outside 0-100")
    return Observation(household_id=hid, device_id=dev, kind=kind, event=event, at=at, battery=battery)


def _answer_row(ts: str, hid: str, dev: str, event_s: str) -> CheckinReply:
    answer = _ANSWERS.get(event_s)
    if answer is None:
        raise RowError(f"check-in answer {event_s!r} is not one of {', '.join(_ANSWERS)}")
    if not hid or dev != CHECKIN_TYPE:
        raise RowError(f"a check-in answer needs a household_id and device_id={CHECKIN_TYPE}")
    try:
        at = datetime.fromisoformat(ts)
    except ValueError as err:
        raise RowError(f"bad timestamp {ts!r}") from err
    if at.tzinfo is None:
        raise RowError(f"timestamp {ts!r} has no UTC offset")
    return CheckinReply(household_id=hid, answer=answer, at=at)


_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?:[Zz]|[+-]\d{2}:?\d{2})?\Z", re.ASCII)


_OFFSET_START = frozenset("+-Zz")
_FRACTION = re.compile(r"\.\d+", re.ASCII)


class _Timestamps:
    """RFC 3339 text to epoch seconds; the minute and the offset are parsed once and reused (a sorted
    event file repeats them row after row), only the seconds and their fraction are read per row."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, float] = {}

    def epoch(self, ts: str) -> float:
        """Seconds since the epoch; ValueError for text that is not RFC 3339 with an offset."""
        frac = 0.0
        rest = ts[19:]
        mark = ts[23:24]
        if ts[19:20] == "." and mark in _OFFSET_START:
            # Milliseconds, the contract's own format (the common case: no search).
            ms = ts[20:23]
            if not (ms.isascii() and ms.isdigit()):
                raise ValueError(f"bad timestamp {ts!r}")
            frac = int(ms) / 1000.0
            rest = ts[23:]
        elif ts[19:20] == ".":
            fraction = _FRACTION.match(ts, 19)  # any other count of digits
            if fraction is None:
                raise ValueError(f"bad timestamp {ts!r}")
            frac = float(fraction.group())
            rest = ts[fraction.end() :]
        sec = ts[17:19]
        if ts[16:17] != ":" or len(sec) != 2 or not (sec.isascii() and sec.isdigit()) or sec > "59":
            raise ValueError(f"bad timestamp {ts!r}")
        key = ts[:16] + rest
        base = self._cache.get(key)
        if base is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            if not _MINUTE.match(key):  # date, hour, minute and offset, in ASCII digits
                raise ValueError(f"bad timestamp {ts!r}")
            try:
                at = datetime.fromisoformat(ts[:16] + ":00" + rest)
            except ValueError as err:
                raise ValueError(f"bad timestamp {ts!r}") from err
            if at.tzinfo is None:
                raise ValueError(f"timestamp {ts!r} has no UTC offset")
            base = self._cache[key] = at.timestamp()
        return base + int(sec) + frac


class Tally:
    """How many rows an event file had and how many of them were rejected (known once it is read)."""

    rows = 0
    rejected = 0


def read_rows(stream: TextIO, errors: TextIO | None = None, tally: Tally | None = None) -> Iterator[Row]:
    """Rows of an event file for ``Engine.feed``; bad rows are reported on ``errors`` and skipped."""
    tally = tally or Tally()
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    if [h.strip() for h in header[:5]] != list(HEADER[:5]):
        raise AnjuError(f"not an event file: header {','.join(header)!r}, expected {','.join(HEADER)}")
    pairs = _PAIRS
    epoch = _Timestamps().epoch
    line = 1
    for row in reader:
        line += 1
        try:
            ts, hid, dev, kind_s, event_s, *more = row
            pair = pairs[kind_s, event_s]
            t = epoch(ts)
            battery = int(more[0]) if more and more[0] else None
            if not hid or not dev or (battery is not None and not 0 <= battery <= 100):
                raise ValueError
        except (ValueError, KeyError):
            # The slow path says exactly what is wrong with the row (or takes an unusual good one).
            try:
                obs = parse_row(row)
            except RowError as err:
                tally.rejected += 1
                if errors is not None:
                    print(f"line {line}: rejected: {err}", file=errors)
                continue
            if isinstance(obs, CheckinReply):
                yield obs.household_id, CHECKIN_TYPE, None, obs.answer, obs.at.timestamp(), None
                continue
            yield obs.household_id, obs.device_id, obs.kind, obs.event, obs.at.timestamp(), obs.battery
            continue
        yield hid, dev, pair[0], pair[1], t, battery
    tally.rows = line - 1


def replay_rows(engine: Engine, rows: Iterable[Row], until: datetime | None = None) -> Iterator[Finding]:
    """``replay`` on rows from ``read_rows``: no Observation or datetime per event."""
    last = -1.0
    advance, feed = engine.advance_to, engine.feed
    for hid, dev, kind, event, t, battery in rows:
        if t > last:
            last = t
            found = advance(t)
            if found:
                yield from found
        if kind is None:
            yield from engine.answer(hid, CheckinAnswer(event), t)
            continue
        found = feed(hid, dev, kind, event, t, battery)  # type: ignore[arg-type]
        if found:
            yield from found
    if until is not None:
        yield from engine.advance(until)


def read_events(stream: TextIO, errors: TextIO | None = None) -> Iterator[Observation | CheckinReply]:
    """Observations (and check-in answers) of an event file; bad rows are reported and skipped."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    if [h.strip() for h in header[:5]] != list(HEADER[:5]):
        raise AnjuError(f"not an event file: header {','.join(header)!r}, expected {','.join(HEADER)}")
    for line, row in enumerate(reader, start=2):
        try:
            yield parse_row(row)
        except RowError as err:
            if errors is not None:
                print(f"line {line}: rejected: {err}", file=errors)


def replay(
    engine: Engine, observations: Iterable[Observation | CheckinReply], until: datetime | None = None
) -> Iterator[Finding]:
    """Run ``engine`` over observations (and check-in answers) in file order, on event time."""
    last: datetime | None = None
    advance, observe = engine.advance, engine.observe
    for obs in observations:
        if last is None or obs.at > last:
            last = obs.at
            yield from advance(obs.at)
        if isinstance(obs, CheckinReply):
            yield from engine.reply(obs)
        else:
            yield from observe(obs)
    if until is not None:
        yield from advance(until)


def alert_line(finding: Finding) -> str:
    record: dict[str, Any] = {
        "household_id": finding.household_id,
        "rule": finding.rule.value,
        "severity": finding.severity.value,
        "at": isoformat(finding.at),
        "detail": finding.detail,
        "key": finding.key,
    }
    return json.dumps(record, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    try:
        pack = load_pack(args.rules or default_pack_path())
    except (OSError, ValueError) as err:
        raise AnjuError(f"rule pack: {err}") from err
    until = None
    if args.until:
        try:
            until = parse_ts(args.until)
        except ValueError as err:
            raise AnjuError(f"--until: {err}") from err
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise AnjuError(
            f"--timezone: unknown time zone {args.timezone!r} (an IANA name such as Asia/Shanghai)"
        ) from err
    engine = Engine(pack, default_timezone=args.timezone)
    if args.fleet:
        engine.configure(load_fleet(args.fleet))
    try:
        stream = args.file.open(encoding="utf-8", newline="")
    except OSError as err:
        raise AnjuError(f"{args.file}: {err}") from err
    out = sys.stdout
    tally = Tally()
    with stream:
        for finding in replay_rows(engine, read_rows(stream, sys.stderr, tally), until):
            out.write(alert_line(finding) + "\n")
    if tally.rejected:
        print(f"{tally.rejected:,} of {tally.rows:,} rows rejected (reasons above)", file=sys.stderr)
    if tally.rows and tally.rejected == tally.rows:
        raise AnjuError(f"{args.file}: every row was rejected ({tally.rows:,}): nothing was replayed")
    return 0
