"""``tamper``: the device reported tampering."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import EventName
from anju.domain import Rule as RuleName
from anju.engine.localtime import iso
from anju.engine.rules.base import Out, Rule, Sections, finding

if TYPE_CHECKING:
    from anju.domain import DeviceKind
    from anju.engine.pack import RulePack
    from anju.engine.state import Dev, Home


class Tamper(Rule):
    name = "tamper"
    sections: ClassVar[Sections] = {"tamper": {"enabled": "bool"}}
    instant = frozenset({EventName.TAMPER})

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        self.enabled = bool(pack.section("tamper")["enabled"])

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        if self.enabled and dev.first("tamper", t):
            detail = {"device_id": device_id, "kind": kind.value}
            out.append(finding(home, RuleName.TAMPER, t, f"{device_id}@{iso(t)}", device_id, detail))
