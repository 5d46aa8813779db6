"""How long a silence at home may last: the thresholds the silence rules share (compiled once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anju.engine.fields import DAY_PARTS, parse_parts
from anju.engine.localtime import INF, local
from anju.engine.params import day_part_table

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Home


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceParams:
    """The ``inactivity`` section in seconds, by day part and by local segment of the day."""

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
    by_location: bool
    #: The local day cut where the hour or the day part changes: segment i runs from
    #: ``seg_start[i]`` to ``seg_start[i + 1]`` minutes (the last one to midnight).
    seg_of_minute: bytes
    seg_end: tuple[int, ...]
    #: Default threshold of each segment, already kept between its part's min and max.
    seg_default: tuple[float, ...]
    #: The smallest threshold any segment can have: no silence alerts sooner.
    inact_floor: float

    def cap(self, home: Home, t0: float) -> tuple[float, str]:
        """The safety cap (``max``) of the day part a silence begun at ``t0`` began in, and that part."""
        m = local(home.tz, t0)
        part = home.params.part(m.hour * 60 + m.minute)
        return float(self.inact_max[part]), DAY_PARTS[part]

    def learned_threshold(self, home: Home, t0: float) -> tuple[float, str, str, str]:
        """The threshold of a silence that began at ``t0``: how long this home's silences that begin
        around that hour (after a sign of life in the same place, where that history is rich enough)
        last, after warm-up, bounded by the day part's min and max; why, the day part, and by what."""
        prof = home.profile
        assert prof is not None
        m = local(home.tz, t0)
        part = home.params.part(m.hour * 60 + m.minute)
        base, by = float(prof.thr[m.hour]), "hour"
        if self.by_location and t0 == home.last_activity and home.last_cell >= 0:
            room = prof.room_threshold(home.last_cell // 24, m.hour)
            if room > 0:
                base, by = room, "place and hour"
            else:
                by = "hour (this place seen too rarely at this hour)"
        return (*bounded(base, "learned", self.inact_min[part], self.inact_max[part], part), by)

    def due(self, home: Home, t0: float) -> float:
        """The first instant when the silence since ``t0`` exceeds the threshold then in force."""
        if learned(home):
            return t0 + self.learned_threshold(home, t0)[0]
        tz = home.tz
        start = local(tz, t0)
        offset = start.utcoffset()
        # Walk local time with the offset of t0 (fast); re-walk exactly if a DST change is crossed.
        due = self._walk(t0, start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6)
        if due < INF and local(tz, due).utcoffset() != offset:
            return self._walk_exact(home, t0)
        return due

    def _walk(self, t0: float, local_s: float) -> float:
        """Before warm-up a silence is judged by the day part it has reached (local segments)."""
        thr = self.seg_default
        i = self.seg_of_minute[int(local_s // 60) % 1440]
        # "longer": never less than the threshold of the part the silence began in.
        floor = thr[i] if self.inact_by_start else 0.0
        day_start = t0 - local_s
        seg_end, n = self.seg_end, len(thr)
        s = t0
        for _ in range(400):
            end = day_start + seg_end[i] * 60
            cand = t0 + max(thr[i], floor)
            if cand < s:
                cand = s
            if cand < end:
                return cand
            s = end
            i += 1
            if i == n:
                i = 0
                day_start += 86400
        return INF

    def _walk_exact(self, home: Home, t0: float) -> float:
        tz = home.tz
        floor = threshold(self, home, t0)[0] if self.inact_by_start else 0.0
        s = t0
        for _ in range(400):
            m = local(tz, s)
            minute = m.hour * 60 + m.minute
            into = minute * 60 + m.second + m.microsecond / 1e6
            seg_end = s + (home.params.next_boundary(minute) * 60 - into)
            if seg_end <= s:
                seg_end = s + 60
            thr, _, _ = threshold(self, home, s)
            cand = max(s, t0 + max(thr, floor))
            if cand < seg_end:
                return cand
            s = seg_end
        return INF


def compile_silence(pack: RulePack) -> SilenceParams:
    ina, lrn = pack.section("inactivity"), pack.section("learning")
    table, boundaries = day_part_table(pack)
    inact_default = parse_parts(ina["threshold"], "inactivity.threshold")
    inact_min = parse_parts(ina["min"], "inactivity.min")
    inact_max = parse_parts(ina["max"], "inactivity.max")
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
    return SilenceParams(
        inactivity=bool(ina["enabled"]),
        inact_default=inact_default,
        inact_min=inact_min,
        inact_max=inact_max,
        rearm_events=max(1, int(ina.get("rearm_events", 1))),
        again_at_max=bool(ina.get("alert_again_at_max", False)),
        inact_by_start=str(ina.get("judge_by", "reached")) == "longer",
        by_location=bool(lrn.get("by_location", False)),
        seg_of_minute=bytes(seg_of_minute),
        seg_end=seg_end,
        seg_default=seg_default,
        inact_floor=min(seg_lo) if lrn["enabled"] else min(seg_default),
    )


def learned(home: Home) -> bool:
    """Whether the home's routine is learned (warm-up is over)."""
    prof = home.profile
    return prof is not None and prof.ready(home.params.warmup_days)


def bounded(base: float, source: str, lo: float, hi: float, part: int) -> tuple[float, str, str]:
    if base < lo:
        return float(lo), f"{source}, raised to the minimum", DAY_PARTS[part]
    if base > hi:
        return float(hi), f"{source}, lowered to the maximum", DAY_PARTS[part]
    return base, source, DAY_PARTS[part]


def threshold(p: SilenceParams, home: Home, t: float) -> tuple[float, str, str]:
    """The default threshold in force at ``t``, why, and the day part (before warm-up)."""
    m = local(home.tz, t)
    part = home.params.part(m.hour * 60 + m.minute)
    return bounded(float(p.inact_default[part]), "default", p.inact_min[part], p.inact_max[part], part)
