"""The engine: per-household state, fed observations, advanced by a watermark."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from anju.clock import isoformat
from anju.domain import RULE_SEVERITY, EventName, Rule
from anju.engine.model import Finding, HouseholdSpec, Observation


class Engine:
    """Evaluates rules on event time. Foundation scope: the alarm button."""

    def __init__(self) -> None:
        self._households: dict[str, HouseholdSpec] = {}
        self.watermark: datetime | None = None

    def configure(self, households: Iterable[HouseholdSpec]) -> None:
        for spec in households:
            self._households[spec.household_id] = spec

    def observe(self, obs: Observation) -> list[Finding]:
        findings: list[Finding] = []
        if obs.event in (EventName.PRESS, EventName.LONG_PRESS):
            findings.append(
                Finding(
                    household_id=obs.household_id,
                    rule=Rule.BUTTON,
                    severity=RULE_SEVERITY[Rule.BUTTON],
                    at=obs.at,
                    key=f"{obs.device_id}@{isoformat(obs.at)}",
                    device_id=obs.device_id,
                    detail={"event": obs.event.value, "device_id": obs.device_id},
                )
            )
        return findings

    def advance(self, now: datetime) -> list[Finding]:
        if self.watermark is None or now > self.watermark:
            self.watermark = now
        return []
