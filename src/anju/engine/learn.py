"""Each home's learned routine: silences by hour of day, wake and bed times, activity per day.

Silences are folded in as they end (a handful per day); numpy runs once per home per day.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

import numpy as np
import numpy.typing as npt

from anju.engine.params import Params

#: Histogram edges of how long a silence had lasted, seconds: 0, then 5 min … 24 h log-spaced.
GAP_EDGES: tuple[float, ...] = (0.0, *(float(x) for x in np.geomspace(300.0, 86400.0, 16)))
_EDGES = np.asarray(GAP_EDGES, dtype=np.float64)
N_BINS = len(GAP_EDGES) - 1
#: Days of wake time, bed time and activity counts kept.
RING_DAYS = 28
WAKE, BED, DAY_COUNT, NIGHT_COUNT = range(4)
#: A learned hour needs at least this much (decayed) evidence.
_MIN_WEIGHT = 3.0


class Profile:
    """What a home's routine looks like, learned from its own history."""

    __slots__ = ("day_usual", "days", "hist", "night_usual", "pos", "rings", "thr", "wake_usual")

    def __init__(self) -> None:
        self.hist: npt.NDArray[np.float32] = np.zeros((24, N_BINS), dtype=np.float32)
        self.rings: npt.NDArray[np.int32] = np.full((4, RING_DAYS), -1, dtype=np.int32)
        self.pos = 0
        self.days = 0
        #: Learned inactivity threshold per local hour, seconds (0: not learned).
        self.thr = array("f", bytes(4 * 24))
        self.wake_usual = -1
        self.day_usual = -1.0
        self.night_usual = -1.0

    def add_silence(self, hour: int, into_hour_s: float, length: float) -> None:
        """A silence of ``length`` seconds began ``into_hour_s`` seconds into local ``hour``."""
        elapsed_at_hour_end = 3600.0 - into_hour_s
        hist = self.hist
        for _ in range(48):
            sample = length if length < elapsed_at_hour_end else elapsed_at_hour_end
            b = bisect_right(GAP_EDGES, sample) - 1
            hist[hour, b if b < N_BINS else N_BINS - 1] += 1.0
            if length <= elapsed_at_hour_end:
                return
            hour = (hour + 1) % 24
            elapsed_at_hour_end += 3600.0

    def end_day(self, params: Params, *, wake: int, bed: int, day_count: int, night_count: int) -> None:
        """Fold one finished activity day in, forget a little, and relearn the thresholds."""
        self.rings[:, self.pos] = (wake, bed, day_count, night_count)
        self.pos = (self.pos + 1) % RING_DAYS
        self.days += 1
        self.hist *= np.float32(params.decay)
        totals = self.hist.sum(axis=1, dtype=np.float64)
        safe = np.where(totals > 0, totals, 1.0)
        cdf = np.cumsum(self.hist, axis=1, dtype=np.float64) / safe[:, None]
        idx = np.minimum((cdf < params.gap_quantile - 1e-9).sum(axis=1), N_BINS - 1)
        learned = _EDGES[idx + 1] * params.gap_factor + params.gap_margin
        learned = np.where(totals >= _MIN_WEIGHT, learned, 0.0)
        # A silence that normally ends just before an hour may run into it on a late day: each
        # hour also allows what the hour before it allows.
        learned = np.maximum(learned, np.roll(learned, 1))
        self.thr = array("f", learned.astype(np.float32).tobytes())
        wakes = self.rings[WAKE][self.rings[WAKE] >= 0]
        if wakes.size >= 3:
            usual = int(np.quantile(wakes, 0.9))
            self.wake_usual = min(max(usual, params.wake_earliest), params.wake_latest)
        days = self.rings[DAY_COUNT][self.rings[DAY_COUNT] >= 0]
        nights = self.rings[NIGHT_COUNT][self.rings[NIGHT_COUNT] >= 0]
        if days.size:
            self.day_usual = float(np.median(days))
        if nights.size:
            self.night_usual = float(np.median(nights))

    def bed_usual(self) -> int:
        """Median bed time, minutes after midnight (-1 unknown); bed times after midnight count late."""
        beds = self.rings[BED][self.rings[BED] >= 0]
        if beds.size == 0:
            return -1
        shifted = np.where(beds < 720, beds + 1440, beds)
        return int(np.median(shifted)) % 1440

    def to_json(self) -> dict[str, Any]:
        return {
            "hist": [round(float(x), 3) for x in self.hist.ravel()],
            "rings": self.rings.ravel().tolist(),
            "pos": self.pos,
            "days": self.days,
            "thr": [round(float(x), 1) for x in self.thr],
            "wake_usual": self.wake_usual,
            "day_usual": self.day_usual,
            "night_usual": self.night_usual,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        p = cls()
        p.hist = np.asarray(data["hist"], dtype=np.float32).reshape(24, N_BINS)
        p.rings = np.asarray(data["rings"], dtype=np.int32).reshape(4, RING_DAYS)
        p.pos = int(data["pos"]) % RING_DAYS
        p.days = int(data["days"])
        p.thr = array("f", [float(x) for x in data["thr"]])
        if len(p.thr) != 24:
            raise ValueError("a learned profile has 24 hourly thresholds")
        p.wake_usual = int(data["wake_usual"])
        p.day_usual = float(data["day_usual"])
        p.night_usual = float(data["night_usual"])
        return p
