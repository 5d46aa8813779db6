"""A rule pack compiled into flat numbers the hot path reads without parsing."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from anju.engine.pack import DAY_PARTS, RulePack, parse_clock, parse_duration

NIGHT, MORNING, DAY, EVENING = range(4)


def _parts(value: object, where: str) -> tuple[int, ...]:
    if isinstance(value, dict):
        # A partial table (an override of one part) falls back to the first part given.
        fallback = parse_duration(next(iter(value.values())), where) if value else 0
        return tuple(parse_duration(value[p], f"{where}.{p}") if p in value else fallback for p in DAY_PARTS)
    d = parse_duration(value, where)
    return (d, d, d, d)


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """Thresholds in seconds, local times in minutes after midnight, day parts per minute."""

    part_of_minute: bytes
    boundaries: tuple[int, ...]
    learning: bool
    warmup_days: int
    decay: float
    gap_quantile: float
    gap_factor: float
    gap_margin: float
    #: Learn silences by where the resident was last seen (location class) as well as by hour.
    by_location: bool
    #: (week, hour) cells within an hour where a place was seen, needed to trust its own threshold.
    location_support: int
    inactivity: bool
    inact_default: tuple[int, ...]
    inact_min: tuple[int, ...]
    inact_max: tuple[int, ...]
    rearm_events: int
    #: A silence alerted on below its day part's max is alerted on again when it reaches the max.
    again_at_max: bool
    #: Before warm-up, allow a silence the longer threshold of the part it began in and the one
    #: it has reached (else: only the part it has reached).
    inact_by_start: bool
    morning: bool
    wake_min: int
    wake_margin: int
    wake_earliest: int
    wake_latest: int
    wake_learned_only: bool
    night_door: bool
    night_start: int
    night_end: int
    night_confirm: int
    night_usual_after: int
    away_confirm: int
    not_returned: bool
    away_limit: tuple[int, ...]
    away_min: tuple[int, ...]
    away_max: tuple[int, ...]
    away_factor: float
    away_margin: float
    return_by: int
    door_left_open: bool
    door_open_limit: int
    anomaly: bool
    restless_factor: float
    restless_min_events: int
    low_activity_ratio: float
    offline: bool
    missed_intervals: int
    low_battery: bool
    battery_threshold: int
    battery_overridden: bool
    tamper: bool
    rollover_min: int
    night_part_start: int
    #: The local day cut where the hour or the day part changes: segment i runs from
    #: ``seg_start[i]`` to ``seg_start[i + 1]`` minutes (the last one to midnight).
    seg_of_minute: bytes
    seg_start: tuple[int, ...]
    seg_end: tuple[int, ...]
    seg_part: tuple[int, ...]
    seg_hour: tuple[int, ...]
    #: Default inactivity threshold of each segment, already kept between its part's min and max.
    seg_default: tuple[float, ...]
    seg_lo: tuple[float, ...]
    seg_hi: tuple[float, ...]
    #: The smallest threshold any segment can have: no silence alerts sooner.
    inact_floor: float

    def part(self, minute: int) -> int:
        return self.part_of_minute[minute]

    def next_boundary(self, minute: int) -> int:
        """The next minute after ``minute`` where the hour or the day part changes (1440 = midnight)."""
        i = bisect_right(self.boundaries, minute)
        return self.boundaries[i] if i < len(self.boundaries) else 1440

    def in_night_window(self, minute: int) -> bool:
        if self.night_start <= self.night_end:
            return self.night_start <= minute < self.night_end
        return minute >= self.night_start or minute < self.night_end


def compile_pack(pack: RulePack, *, battery_overridden: bool = False) -> Params:
    """Flatten a validated pack."""
    s = pack.section
    parts = s("day_parts")
    starts = sorted((parse_clock(parts[p], p), i) for i, p in enumerate(DAY_PARTS))
    table = bytearray(1440)
    for minute in range(1440):
        current = starts[-1][1]
        for start, idx in starts:
            if start <= minute:
                current = idx
        table[minute] = current
    boundaries = tuple(sorted({h * 60 for h in range(24)} | {st for st, _ in starts if st}))
    lrn, ina, nma, nd = s("learning"), s("inactivity"), s("no_morning_activity"), s("night_door")
    nr, dlo, ra = s("not_returned"), s("door_left_open"), s("routine_anomaly")
    half_life = float(lrn["half_life_days"]) or 1e9
    inact_default = _parts(ina["threshold"], "inactivity.threshold")
    inact_min = _parts(ina["min"], "inactivity.min")
    inact_max = _parts(ina["max"], "inactivity.max")
    away_limit = _parts(nr["threshold"], "not_returned.threshold")
    seg_start = (0, *boundaries) if boundaries[0] != 0 else boundaries
    seg_end = (*seg_start[1:], 1440)
    seg_of_minute = bytearray(1440)
    for i, (a, b) in enumerate(zip(seg_start, seg_end, strict=True)):
        seg_of_minute[a:b] = bytes([i]) * (b - a)
    seg_part = tuple(table[a] for a in seg_start)
    seg_lo = tuple(float(inact_min[q]) for q in seg_part)
    seg_hi = tuple(float(inact_max[q]) for q in seg_part)
    seg_default = tuple(
        min(max(float(inact_default[q]), lo), hi) for q, lo, hi in zip(seg_part, seg_lo, seg_hi, strict=True)
    )
    return Params(
        part_of_minute=bytes(table),
        boundaries=boundaries,
        learning=bool(lrn["enabled"]),
        warmup_days=int(lrn["warmup_days"]),
        decay=0.5 ** (1.0 / half_life),
        gap_quantile=min(1.0, float(lrn["gap_quantile"])),
        gap_factor=float(lrn["gap_factor"]),
        gap_margin=float(parse_duration(lrn["gap_margin"], "learning.gap_margin")),
        by_location=bool(lrn.get("by_location", False)),
        location_support=max(1, int(lrn.get("location_support", 3))),
        inactivity=bool(ina["enabled"]),
        inact_default=inact_default,
        inact_min=inact_min,
        inact_max=inact_max,
        rearm_events=max(1, int(ina.get("rearm_events", 1))),
        again_at_max=bool(ina.get("alert_again_at_max", False)),
        inact_by_start=str(ina.get("judge_by", "reached")) == "longer",
        morning=bool(nma["enabled"]),
        wake_min=parse_clock(nma["wake"], "no_morning_activity.wake"),
        wake_margin=parse_duration(nma["margin"], "no_morning_activity.margin"),
        wake_earliest=parse_clock(nma["earliest"], "no_morning_activity.earliest"),
        wake_latest=parse_clock(nma["latest"], "no_morning_activity.latest"),
        wake_learned_only=bool(nma.get("learned_only", False)),
        night_door=bool(nd["enabled"]),
        night_start=parse_clock(nd["start"], "night_door.start"),
        night_end=parse_clock(nd["end"], "night_door.end"),
        night_confirm=parse_duration(nd["confirm"], "night_door.confirm"),
        night_usual_after=int(nd.get("usual_after", 0)),
        away_confirm=parse_duration(s("away").get("confirm", "10m"), "away.confirm"),
        not_returned=bool(nr["enabled"]),
        away_limit=away_limit,
        away_min=_parts(nr["min"], "not_returned.min") if "min" in nr else away_limit,
        away_max=_parts(nr["max"], "not_returned.max") if "max" in nr else away_limit,
        away_factor=float(nr.get("factor", 1.0)),
        away_margin=float(parse_duration(nr.get("margin", "1h"), "not_returned.margin")),
        return_by=parse_clock(nr["return_by"], "not_returned.return_by"),
        door_left_open=bool(dlo["enabled"]),
        door_open_limit=parse_duration(dlo["threshold"], "door_left_open.threshold"),
        anomaly=bool(ra["enabled"]),
        restless_factor=float(ra["restless_factor"]),
        restless_min_events=int(ra["restless_min_events"]),
        low_activity_ratio=float(ra["low_activity_ratio"]),
        offline=bool(s("device_offline")["enabled"]),
        missed_intervals=max(1, int(s("device_offline")["missed_intervals"])),
        low_battery=bool(s("low_battery")["enabled"]),
        battery_threshold=int(s("low_battery")["threshold"]),
        battery_overridden=battery_overridden,
        tamper=bool(s("tamper")["enabled"]),
        # The activity day ends when the night part does: the night is judged as a whole.
        rollover_min=parse_clock(parts["morning"], "day_parts.morning"),
        night_part_start=parse_clock(parts["night"], "day_parts.night"),
        seg_of_minute=bytes(seg_of_minute),
        seg_start=seg_start,
        seg_end=seg_end,
        seg_part=seg_part,
        seg_hour=tuple(a // 60 for a in seg_start),
        seg_default=seg_default,
        seg_lo=seg_lo,
        seg_hi=seg_hi,
        inact_floor=min(seg_lo) if lrn["enabled"] else min(seg_default),
    )
