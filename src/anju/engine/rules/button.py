"""``button``: any press or long press of the alarm button pages the center at once (always on)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.domain import EventName
from anju.domain import Rule as RuleName
from anju.engine.localtime import iso
from anju.engine.rules.base import Out, Rule, finding

if TYPE_CHECKING:
    from anju.domain import DeviceKind
    from anju.engine.state import Dev, Home


class Button(Rule):
    name = "button"
    instant = frozenset({EventName.PRESS, EventName.LONG_PRESS})

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        if dev.first("button", t):
            detail = {"event": event.value, "device_id": device_id}
            out.append(finding(home, RuleName.BUTTON, t, f"{device_id}@{iso(t)}", device_id, detail))
