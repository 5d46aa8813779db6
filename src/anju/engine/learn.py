"""Each home's learned routine: how long its silences last by where the resident was last seen and
the hour they begin, its outings, wake and bed times, activity per day.

Silences and outings are folded in as they end (a handful per day, plain Python); numpy runs once
per home per day, at the end of the activity day.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
import numpy.typing as npt

from anju.engine.params import Params
from anju.engine.prior import RoutinePrior

#: Days of silences, wake and bed times and activity counts kept (four weeks).
RING_DAYS = 28
WAKE, BED, DAY_COUNT, NIGHT_COUNT = range(4)
#: Resolution of the learned silences, seconds (up to 255 steps: 42.5 hours).
STEP_S = 600.0
#: Silences are kept as weekly maxima: the last ``WEEKS`` weeks (the oldest one is dropped whole).
WEEKS = 4
#: Where the resident was last seen before a silence: the location class of the last sign of life.
LOCATIONS = ("other", "bedroom", "bathroom", "kitchen", "living", "entrance")
OTHER, BEDROOM, BATHROOM, KITCHEN, LIVING, ENTRANCE = range(len(LOCATIONS))
_CELLS = len(LOCATIONS) * 24
#: Words in a device's location (English, Chinese; the simulator's room names) -> location class.
#: Checked in order: "bathroom" before "bed" (no "bed" in "bathroom", but "bedroom" has no "bath").
_WORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (BATHROOM, ("bath", "toilet", "shower", "lavatory", "restroom", "卫生间", "浴室", "厕所", "洗手间")),
    (BEDROOM, ("bed", "sleep", "卧室", "睡房")),
    (KITCHEN, ("kitchen", "cook", "fridge", "厨房")),
    (LIVING, ("living", "lounge", "sofa", "couch", "dining", "sitting", "客厅", "起居", "餐厅")),
    (ENTRANCE, ("entr", "hall", "door", "corridor", "foyer", "porch", "门", "玄关", "走廊", "过道")),
)
#: Outings kept, as (local start minute, minutes away) pairs.
OUTINGS = 24
#: Outings from one day part needed before its away limit is learned.
MIN_OUTINGS = 3
_EMPTY = -1


def _around(a: npt.NDArray[Any], op: Any) -> npt.NDArray[Any]:
    """``op`` of each hour's value with the hours before and after it (hours wrap around midnight)."""
    ext = np.concatenate((a[:, -1:], a, a[:, :1]), axis=1)
    result: npt.NDArray[Any] = op(op(ext[:, :-2], ext[:, 1:-1]), ext[:, 2:])
    return result


def _median(values: list[int]) -> float:
    """Median of a short list (a ring of at most four weeks; numpy's median costs more to call)."""
    v = sorted(values)
    n = len(v)
    return float(v[n // 2]) if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def location_class(location: str) -> int:
    """The location class of a device's free-text location ("" or unknown words: other)."""
    text = location.casefold()
    for cls, words in _WORDS:
        if any(w in text for w in words):
            return cls
    return OTHER


class LearnedRoutine:
    """What a home's routine looks like, learned from its own history (history only, never ahead)."""

    __slots__ = (
        "away_thr",
        "day_usual",
        "days",
        "night_outings",
        "night_usual",
        "out_pos",
        "outings",
        "pos",
        "prior",
        "rings",
        "room_thr",
        "silence",
        "thr",
        "today",
        "wake_usual",
        "week",
    )

    def __init__(self) -> None:
        #: Per week, location class of the last sign of life and local hour: the longest gap at home
        #: after a sign of life there and then, in steps of ``STEP_S`` rounded up (1: gaps seen, all
        #: under 10 min; 0: nothing seen). One byte each: 4 weeks x 6 classes x 24 hours, 576 bytes.
        self.silence: npt.NDArray[np.uint8] = np.zeros((WEEKS, len(LOCATIONS), 24), dtype=np.uint8)
        #: The same for the activity day in progress.
        self.today = bytearray(_CELLS)
        self.week = 0
        self.rings: npt.NDArray[np.int32] = np.full((4, RING_DAYS), _EMPTY, dtype=np.int32)
        self.pos = 0
        self.days = 0
        #: Learned inactivity threshold of a silence beginning in each local hour, seconds, before the
        #: pack's bounds (0: this home is never silent long at that hour), whatever the location.
        self.thr = array("f", bytes(4 * 24))
        #: The same by location class of the last sign of life and hour, whole minutes rounded up
        #: (the hour's own ``thr`` where this home's history of that place and hour is thin).
        self.room_thr = array("H", bytes(2 * _CELLS))
        self.outings = array("h", [_EMPTY] * (2 * OUTINGS))
        self.out_pos = 0
        #: Learned away limit per day part of leaving, seconds (0: not learned).
        self.away_thr = array("f", bytes(4 * 4))
        self.night_outings = 0
        self.wake_usual = -1
        self.day_usual = -1.0
        self.night_usual = -1.0
        #: The center's prior this home started from (None: none, or the home has outgrown it).
        self.prior: RoutinePrior | None = None

    def ready(self, warmup_days: int) -> bool:
        """Whether the thresholds are in force: warm-up is over, or a prior stands in for it."""
        return self.days >= warmup_days or self.prior is not None

    def seed(self, prior: RoutinePrior, params: Params) -> None:
        """Start a new home from the center's prior (its thresholds until its own history is rich)."""
        self.prior = prior
        if prior.wake >= 0 and self.wake_usual < 0:
            self.wake_usual = min(max(prior.wake, params.wake_earliest), params.wake_latest)
        self._learn_silences(params)
        self._learn_outings(params)

    def teach_silence(self, cell: int, length: float, params: Params) -> None:
        """A silence of ``length`` seconds after ``cell`` was ordinary (the resident said so): its
        place and hour allow it from now on (folded into this week and relearned at once)."""
        steps = min(int(-(-length // STEP_S)), 255)
        loc, hour = divmod(cell, 24)
        if steps > self.silence[self.week, loc, hour]:
            self.silence[self.week, loc, hour] = steps
        self._learn_silences(params)

    def teach_outing(self, start_minute: int, minutes: float, params: Params, *, at_night: bool) -> None:
        """An outing this long, begun then, was ordinary: it is learned at once."""
        self.add_outing(start_minute, minutes, at_night=at_night)
        self._learn_outings(params)

    def add_silence(self, cell: int, length: float) -> None:
        """A gap at home of ``length`` seconds has ended; ``cell`` = location class x 24 + local hour
        of the sign of life that began it."""
        steps = int(-(-length // STEP_S))  # rounded up: a gap of a few seconds is one step
        if steps > self.today[cell]:
            self.today[cell] = steps if steps < 255 else 255

    def add_outing(self, start_minute: int, minutes: float, *, at_night: bool) -> None:
        """The resident came home after ``minutes`` away, having left at local ``start_minute``."""
        i = 2 * self.out_pos
        self.outings[i] = start_minute
        self.outings[i + 1] = min(int(minutes + 0.999), 32767)
        self.out_pos = (self.out_pos + 1) % OUTINGS
        if at_night:
            self.night_outings = min(self.night_outings + 1, 1000)

    def end_day(self, params: Params, *, wake: int, bed: int, day_count: int, night_count: int) -> None:
        """Fold one finished activity day in and relearn the thresholds (history only)."""
        pos = self.pos
        today = np.frombuffer(self.today, dtype=np.uint8).reshape(len(LOCATIONS), 24)
        np.maximum(self.silence[self.week], today, out=self.silence[self.week])
        self.today = bytearray(_CELLS)
        self.rings[:, pos] = (wake, bed, day_count, night_count)
        self.pos = (pos + 1) % RING_DAYS
        self.days += 1
        if self.prior is not None and self.days >= params.prior_days:
            self.prior = None  # its own history is rich enough now
        if self.days % 7 == 0:
            # A new week begins: the oldest one is forgotten (the history is the last 3-4 weeks).
            self.week = (self.week + 1) % WEEKS
            self.silence[self.week] = 0
        self._learn_silences(params)
        wakes = self.rings[WAKE][self.rings[WAKE] >= 0]
        if wakes.size >= 3:
            self.wake_usual = min(max(int(wakes.max()), params.wake_earliest), params.wake_latest)
        days = self.rings[DAY_COUNT][self.rings[DAY_COUNT] >= 0]
        nights = self.rings[NIGHT_COUNT][self.rings[NIGHT_COUNT] >= 0]
        if days.size:
            self.day_usual = _median(days.tolist())
        if nights.size:
            self.night_usual = _median(nights.tolist())
        self._learn_outings(params)

    def _learn_silences(self, params: Params) -> None:
        """Thresholds from the longest gaps of the last weeks, by hour and by place and hour."""
        weeks = self.silence.astype(np.float64)
        longest = weeks.max(axis=0)  # (class, hour), steps
        # Routines shift by an hour from day to day: a silence may begin an hour earlier or later.
        longest = _around(longest, np.maximum)
        hourly = longest.max(axis=0) * STEP_S
        by_hour = np.where(hourly > 0, hourly * params.gap_factor + params.gap_margin, 0.0)
        prior = self.prior
        if prior is not None:
            by_hour = self._with_prior(by_hour, np.asarray(prior.hour), params)
        self.thr = array("f", by_hour.astype(np.float32).tobytes())
        if not params.by_location:
            self.room_thr = array("H", bytes(2 * _CELLS))
            return
        # Support: (week, hour) cells within an hour of this one where this place was seen at all.
        seen = (self.silence > 0).sum(axis=0)
        support = _around(seen, np.add)
        by_place = longest * STEP_S * params.gap_factor + params.gap_margin
        # A place seen too rarely at this hour, or never: 0, the hour's own threshold applies.
        room = np.where(support >= params.location_support, by_place, 0.0)
        if prior is not None:
            # Cells the home has not seen often enough take the center's; in warm-up, the longer.
            rich = support >= params.location_support
            other = np.asarray(prior.room).reshape(len(LOCATIONS), 24)
            seen_raw = np.where(longest > 0, by_place, 0.0)
            mixed = np.where(rich, by_place, other)
            room = np.maximum(seen_raw, other) if self.days < params.warmup_days else mixed
        self.room_thr = array("H", np.minimum(np.ceil(room / 60.0), 65535).astype(np.uint16).tobytes())

    def _with_prior(self, own: npt.NDArray[Any], prior: npt.NDArray[Any], params: Params) -> Any:
        """Own hourly thresholds completed by the prior's (in warm-up: the longer of the two)."""
        if self.days < params.warmup_days:
            return np.maximum(own, prior)
        return np.where(own > 0, own, prior)

    def room_threshold(self, location: int, hour: int) -> float:
        """The learned threshold, seconds, of a silence after a sign of life at ``location``, ``hour``
        (before the pack's bounds); 0 where that place and hour were seen too rarely."""
        return self.room_thr[location * 24 + hour] * 60.0

    def _learn_outings(self, params: Params) -> None:
        pairs = np.frombuffer(self.outings, dtype=np.int16).reshape(OUTINGS, 2)
        pairs = pairs[pairs[:, 0] >= 0]
        thr = array("f", bytes(4 * 4))
        if pairs.size:
            parts = np.frombuffer(params.part_of_minute, dtype=np.uint8)[pairs[:, 0]]
            for part in range(4):
                minutes = pairs[parts == part, 1]
                if minutes.size >= MIN_OUTINGS:
                    thr[part] = float(minutes.max()) * 60.0 * params.away_factor + params.away_margin
        if self.prior is not None:
            for part in range(4):
                if thr[part] <= 0:
                    thr[part] = self.prior.away[part]
        self.away_thr = thr

    def bed_usual(self) -> int:
        """Median bed time, minutes after midnight (-1 unknown); bed times after midnight count late."""
        beds = self.rings[BED][self.rings[BED] >= 0]
        if beds.size == 0:
            return -1
        shifted = np.where(beds < 720, beds + 1440, beds)
        return int(np.median(shifted)) % 1440

    def to_json(self) -> dict[str, Any]:
        return {
            "silence": self.silence.ravel().tolist(),
            "today": list(self.today),
            "week": self.week,
            "rings": self.rings.ravel().tolist(),
            "pos": self.pos,
            "days": self.days,
            "thr": [round(float(x), 1) for x in self.thr],
            "room_thr": list(self.room_thr),
            "outings": list(self.outings),
            "out_pos": self.out_pos,
            "away_thr": [round(float(x), 1) for x in self.away_thr],
            "night_outings": self.night_outings,
            "wake_usual": self.wake_usual,
            "day_usual": self.day_usual,
            "night_usual": self.night_usual,
            "prior": self.prior.to_json() if self.prior is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LearnedRoutine:
        p = cls()
        p.silence = np.asarray(data["silence"], dtype=np.uint8).reshape(WEEKS, len(LOCATIONS), 24)
        p.today = bytearray(min(max(int(x), 0), 255) for x in data["today"])
        p.week = int(data["week"]) % WEEKS
        p.rings = np.asarray(data["rings"], dtype=np.int32).reshape(4, RING_DAYS)
        p.pos = int(data["pos"]) % RING_DAYS
        p.days = int(data["days"])
        p.thr = array("f", [float(x) for x in data["thr"]])
        p.room_thr = array("H", [min(max(int(x), 0), 65535) for x in data["room_thr"]])
        p.outings = array("h", [int(x) for x in data["outings"]])
        p.out_pos = int(data["out_pos"]) % OUTINGS
        p.away_thr = array("f", [float(x) for x in data["away_thr"]])
        if (
            len(p.thr) != 24
            or len(p.today) != _CELLS
            or len(p.room_thr) != _CELLS
            or len(p.outings) != 2 * OUTINGS
            or len(p.away_thr) != 4
        ):
            raise ValueError(
                "a learned profile has 24 hourly values, 144 by place, 24 outings, 4 away limits"
            )
        p.night_outings = int(data["night_outings"])
        p.wake_usual = int(data["wake_usual"])
        p.day_usual = float(data["day_usual"])
        p.night_usual = float(data["night_usual"])
        if data.get("prior") is not None:
            p.prior = RoutinePrior.from_json(data["prior"])
        return p
