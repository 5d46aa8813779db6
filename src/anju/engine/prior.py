"""The warm-up prior: what the center's other homes' silences and outings look like, by place and hour.

A new home has no history of its own; instead of the pack's fixed defaults it starts from the
thresholds the center's other homes have learned (a high quantile over the homes, per location
class and hour), narrowed by the resident's own intake answers (wake and bed time, regular outings).
It moves to its own routine as it learns (``LearnedRoutine``, ``learning.prior_days``). Pure: the
caller computes the prior from the other homes' learned routines and hands it to the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from anju.engine.learn import LearnedRoutine
    from anju.engine.model import Intake
    from anju.engine.params import Params

#: Location classes x hours (``learn.LOCATIONS``); bedroom is class 1.
_CLASSES, _BEDROOM = 6, 1
#: Homes needed before a cell of the prior is trusted (else the hour's, else the pack's default).
MIN_HOMES = 2


@dataclass(frozen=True, slots=True)
class RoutinePrior:
    """Thresholds in seconds: by location class x 24 + hour, by hour, away limits by day part; the
    usual wake minute (-1 unknown). 0: not known from the other homes."""

    room: tuple[float, ...]
    hour: tuple[float, ...]
    away: tuple[float, ...]
    wake: int = -1

    @classmethod
    def from_routines(cls, routines: Iterable[LearnedRoutine], quantile: float = 0.75) -> RoutinePrior:
        """The ``quantile`` over homes of each learned threshold (homes still in warm-up are left out)."""
        rooms, hours, aways, wakes = [], [], [], []
        for r in routines:
            if r.days < 3:
                continue
            rooms.append(np.frombuffer(r.room_thr, dtype=np.uint16).astype(np.float64) * 60.0)
            hours.append(np.frombuffer(r.thr, dtype=np.float32).astype(np.float64))
            aways.append(np.frombuffer(r.away_thr, dtype=np.float32).astype(np.float64))
            if r.wake_usual >= 0:
                wakes.append(r.wake_usual)

        def q(rows: list[Any], n: int) -> tuple[float, ...]:
            if not rows:
                return (0.0,) * n
            a = np.asarray(rows, dtype=np.float64)
            out = []
            for column in a.T:
                known = column[column > 0]
                out.append(float(np.quantile(known, quantile)) if known.size >= MIN_HOMES else 0.0)
            return tuple(out)

        wake = int(np.median(wakes)) if wakes else -1
        return cls(room=q(rooms, _CLASSES * 24), hour=q(hours, 24), away=q(aways, 4), wake=wake)

    def narrow(self, intake: Intake | None, params: Params) -> RoutinePrior:
        """The prior for one home: its resident's own wake and bed time and outings where given."""
        if intake is None:
            return self
        room, hour, away = list(self.room), list(self.hour), list(self.away)
        wake = intake.wake if intake.wake is not None else self.wake
        if intake.bed is not None and wake >= 0:
            # Asleep from bed time to wake time: a silence after the bedroom in those hours may last
            # until the wake time, plus the learning margin (never less than the prior says).
            span = (wake - intake.bed) % 1440
            for k in range(0, span, 60):
                h = ((intake.bed + k) // 60) % 24
                allowed = (span - k) * 60.0 + params.gap_margin
                cell = _BEDROOM * 24 + h
                room[cell] = max(room[cell], allowed)
                hour[h] = max(hour[h], allowed)
        for start, minutes in intake.outings:
            part = params.part(start % 1440)
            away[part] = max(away[part], minutes * 60.0 * params.away_factor + params.away_margin)
        return replace(self, room=tuple(room), hour=tuple(hour), away=tuple(away), wake=wake)

    def to_json(self) -> dict[str, Any]:
        return {
            "room": [round(x) for x in self.room],
            "hour": [round(x) for x in self.hour],
            "away": [round(x) for x in self.away],
            "wake": self.wake,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoutinePrior:
        prior = cls(
            room=tuple(float(x) for x in data["room"]),
            hour=tuple(float(x) for x in data["hour"]),
            away=tuple(float(x) for x in data["away"]),
            wake=int(data.get("wake", -1)),
        )
        if len(prior.room) != _CLASSES * 24 or len(prior.hour) != 24 or len(prior.away) != 4:
            raise ValueError("a prior has 144 values by place and hour, 24 by hour, 4 away limits")
        return prior
