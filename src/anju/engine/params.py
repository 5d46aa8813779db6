"""The core's part of a rule pack, compiled into flat numbers: day parts and learning.

Each rule compiles its own section (``engine/rules/``); this is what the core itself reads to keep
the home's days and to learn its routine.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anju.engine.fields import DAY_PARTS, Schema, parse_clock, parse_duration

if TYPE_CHECKING:
    from anju.engine.pack import RulePack

NIGHT, MORNING, DAY, EVENING = range(4)

#: The pack sections the core reads.
SECTIONS: dict[str, Schema] = {
    "day_parts": {part: "clock" for part in DAY_PARTS},
    "learning": {
        "enabled": "bool",
        "warmup_days": "int",
        "half_life_days": "float",
        "gap_quantile": "float",
        "gap_factor": "float",
        "gap_margin": "duration",
        "by_location": "bool",
        "location_support": "int",
        "prior_days": "int",
    },
}
OPTIONAL: dict[str, frozenset[str]] = {
    "learning": frozenset({"by_location", "location_support", "prior_days"})
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """Day parts per minute and local times in minutes after midnight; learning settings."""

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
    #: Days after which a home started from the center's prior keeps to its own history alone.
    prior_days: int
    #: What learning takes from rule sections: the morning window where a wake time is looked for
    #: (``no_morning_activity``) and how outings become away limits (``not_returned``).
    wake_margin: int
    wake_earliest: int
    wake_latest: int
    away_factor: float
    away_margin: float
    rollover_min: int
    night_part_start: int

    def part(self, minute: int) -> int:
        return self.part_of_minute[minute]

    def next_boundary(self, minute: int) -> int:
        """The next minute after ``minute`` where the hour or the day part changes (1440 = midnight)."""
        i = bisect_right(self.boundaries, minute)
        return self.boundaries[i] if i < len(self.boundaries) else 1440


def day_part_table(pack: RulePack) -> tuple[bytes, tuple[int, ...]]:
    """The day part of each local minute, and the minutes where the hour or the day part changes."""
    parts = pack.section("day_parts")
    starts = sorted((parse_clock(parts[p], p), i) for i, p in enumerate(DAY_PARTS))
    table = bytearray(1440)
    for minute in range(1440):
        current = starts[-1][1]
        for start, idx in starts:
            if start <= minute:
                current = idx
        table[minute] = current
    boundaries = tuple(sorted({h * 60 for h in range(24)} | {st for st, _ in starts if st}))
    return bytes(table), boundaries


def compile_pack(pack: RulePack) -> Params:
    """Flatten the core's sections of a validated pack."""
    s = pack.section
    parts, lrn, nma, nr = s("day_parts"), s("learning"), s("no_morning_activity"), s("not_returned")
    table, boundaries = day_part_table(pack)
    half_life = float(lrn["half_life_days"]) or 1e9
    return Params(
        part_of_minute=table,
        boundaries=boundaries,
        learning=bool(lrn["enabled"]),
        warmup_days=int(lrn["warmup_days"]),
        decay=0.5 ** (1.0 / half_life),
        gap_quantile=min(1.0, float(lrn["gap_quantile"])),
        gap_factor=float(lrn["gap_factor"]),
        gap_margin=float(parse_duration(lrn["gap_margin"], "learning.gap_margin")),
        by_location=bool(lrn.get("by_location", False)),
        location_support=max(1, int(lrn.get("location_support", 3))),
        prior_days=int(lrn.get("prior_days", 14)),
        wake_margin=parse_duration(nma["margin"], "no_morning_activity.margin"),
        wake_earliest=parse_clock(nma["earliest"], "no_morning_activity.earliest"),
        wake_latest=parse_clock(nma["latest"], "no_morning_activity.latest"),
        away_factor=float(nr.get("factor", 1.0)),
        away_margin=float(parse_duration(nr.get("margin", "1h"), "not_returned.margin")),
        # The activity day ends when the night part does: the night is judged as a whole.
        rollover_min=parse_clock(parts["morning"], "day_parts.morning"),
        night_part_start=parse_clock(parts["night"], "day_parts.night"),
    )
