"""Each home's learned routine: how long its silences last by the hour they begin, its outings,
wake and bed times, activity per day.

Silences and outings are folded in as they end (a handful per day, plain Python); numpy runs once
per home per day, at the end of the activity day.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
import numpy.typing as npt

from anju.engine.params import Params

#: Days of silences, wake and bed times and activity counts kept (four weeks).
RING_DAYS = 28
WAKE, BED, DAY_COUNT, NIGHT_COUNT = range(4)
#: Resolution of the learned silences, seconds (up to 255 steps: 42.5 hours).
STEP_S = 600.0
#: Outings kept, as (local start minute, minutes away) pairs.
OUTINGS = 24
#: Outings from one day part needed before its away limit is learned.
MIN_OUTINGS = 3
_EMPTY = -1


class Profile:
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
        "rings",
        "silence",
        "thr",
        "today",
        "wake_usual",
    )

    def __init__(self) -> None:
        #: Per day and local hour: the longest silence at home that began in that hour, in steps of
        #: ``STEP_S`` rounded up (one byte each: 28 days x 24 hours fit in 672 bytes).
        self.silence: npt.NDArray[np.uint8] = np.zeros((RING_DAYS, 24), dtype=np.uint8)
        #: The same for the activity day in progress, seconds.
        self.today = array("f", bytes(4 * 24))
        self.rings: npt.NDArray[np.int32] = np.full((4, RING_DAYS), _EMPTY, dtype=np.int32)
        self.pos = 0
        self.days = 0
        #: Learned inactivity threshold of a silence beginning in each local hour, seconds, before the
        #: pack's bounds (0: this home is never silent long at that hour).
        self.thr = array("f", bytes(4 * 24))
        self.outings = array("h", [_EMPTY] * (2 * OUTINGS))
        self.out_pos = 0
        #: Learned away limit per day part of leaving, seconds (0: not learned).
        self.away_thr = array("f", bytes(4 * 4))
        self.night_outings = 0
        self.wake_usual = -1
        self.day_usual = -1.0
        self.night_usual = -1.0

    def add_silence(self, hour: int, length: float) -> None:
        """A silence at home of ``length`` seconds, begun in local ``hour``, has ended."""
        if length > self.today[hour]:
            self.today[hour] = length

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
        self.silence[pos] = np.minimum(np.ceil(np.frombuffer(self.today, dtype=np.float32) / STEP_S), 255)
        self.today = array("f", bytes(4 * 24))
        self.rings[:, pos] = (wake, bed, day_count, night_count)
        self.pos = (pos + 1) % RING_DAYS
        self.days += 1
        seen = min(self.days, RING_DAYS)
        rows = (
            self.silence
            if seen == RING_DAYS
            else self.silence[np.arange(pos + 1 - seen, pos + 1) % RING_DAYS]
        )
        # The q-quantile over days of each hour's longest silence (q = 1: the longest seen).
        k = min(seen - 1, max(0, int(np.ceil(params.gap_quantile * seen)) - 1))
        usual = np.sort(rows, axis=0)[k].astype(np.float64) * STEP_S
        # Routines shift by an hour from day to day: a silence may begin an hour earlier or later.
        wrapped = np.concatenate((usual[-1:], usual, usual[:1]))
        usual = np.maximum(np.maximum(wrapped[:-2], usual), wrapped[2:])
        learned = np.where(usual > 0, usual * params.gap_factor + params.gap_margin, 0.0)
        self.thr = array("f", learned.astype(np.float32).tobytes())
        wakes = self.rings[WAKE][self.rings[WAKE] >= 0]
        if wakes.size >= 3:
            self.wake_usual = min(max(int(wakes.max()), params.wake_earliest), params.wake_latest)
        days = self.rings[DAY_COUNT][self.rings[DAY_COUNT] >= 0]
        nights = self.rings[NIGHT_COUNT][self.rings[NIGHT_COUNT] >= 0]
        if days.size:
            self.day_usual = float(np.median(days))
        if nights.size:
            self.night_usual = float(np.median(nights))
        self._learn_outings(params)

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
            "today": [round(float(x), 1) for x in self.today],
            "rings": self.rings.ravel().tolist(),
            "pos": self.pos,
            "days": self.days,
            "thr": [round(float(x), 1) for x in self.thr],
            "outings": list(self.outings),
            "out_pos": self.out_pos,
            "away_thr": [round(float(x), 1) for x in self.away_thr],
            "night_outings": self.night_outings,
            "wake_usual": self.wake_usual,
            "day_usual": self.day_usual,
            "night_usual": self.night_usual,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        p = cls()
        p.silence = np.asarray(data["silence"], dtype=np.uint8).reshape(RING_DAYS, 24)
        p.today = array("f", [float(x) for x in data["today"]])
        p.rings = np.asarray(data["rings"], dtype=np.int32).reshape(4, RING_DAYS)
        p.pos = int(data["pos"]) % RING_DAYS
        p.days = int(data["days"])
        p.thr = array("f", [float(x) for x in data["thr"]])
        p.outings = array("h", [int(x) for x in data["outings"]])
        p.out_pos = int(data["out_pos"]) % OUTINGS
        p.away_thr = array("f", [float(x) for x in data["away_thr"]])
        if len(p.thr) != 24 or len(p.today) != 24 or len(p.outings) != 2 * OUTINGS or len(p.away_thr) != 4:
            raise ValueError("a learned profile has 24 hourly values, 24 outings and 4 away limits")
        p.night_outings = int(data["night_outings"])
        p.wake_usual = int(data["wake_usual"])
        p.day_usual = float(data["day_usual"])
        p.night_usual = float(data["night_usual"])
        return p
