"""``low_battery``: a reading under the device profile's floor (or the household's override); once
per battery: a reading 10 points above the floor is a new battery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import Rule as RuleName
from anju.engine.localtime import iso
from anju.engine.rules.base import Out, Rule, Sections, finding, forget_configured

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Dev, Home


class BatteryState:
    """Device id -> when its battery was first low (the alert of this battery; None: none low)."""

    low_since: dict[str, float] | None = None


class LowBattery(Rule):
    name = "low_battery"
    sections: ClassVar[Sections] = {"low_battery": {"enabled": "bool", "threshold": "int"}}
    state = BatteryState

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        s = pack.section("low_battery")
        self.enabled = bool(s["enabled"])
        self.threshold = int(s["threshold"])
        #: The household set its own threshold: it takes precedence over the device profiles'.
        self.overridden = "threshold" in (overrides.get("low_battery") or {})

    def floor(self, dev: Dev) -> int:
        """The reading under which the device's battery is low."""
        if self.overridden or dev.battery_low is None:
            return self.threshold
        return dev.battery_low

    def dump(self, home: Home) -> dict[str, Any]:
        st: BatteryState = home.states
        return {"low_since": dict(st.low_since or {})}

    def load(self, data: dict[str, Any], home: Home) -> None:
        st: BatteryState = home.states
        low = st.low_since = forget_configured(st.low_since, home)
        for device_id, since in (data.get("low_since") or {}).items():
            if device_id in home.devices:
                low[device_id] = float(since)

    def load_legacy(self, data: dict[str, Any], home: Home) -> None:
        st: BatteryState = home.states
        low = st.low_since = forget_configured(st.low_since, home)
        for d, v in (data.get("devices") or {}).items():
            if d in home.devices and float(v.get("low_since", -1.0)) > 0:
                low[d] = float(v["low_since"])

    def forget(self, home: Home, device_ids: set[str]) -> None:
        st: BatteryState = home.states
        if st.low_since:
            for d in device_ids:
                st.low_since.pop(d, None)

    def reading(self, home: Home, dev: Dev, device_id: str, battery: int, t: float, out: Out) -> None:
        if not self.enabled:
            return
        st: BatteryState = home.states
        low = self.floor(dev)
        if battery < low:
            if (st.low_since is None or device_id not in st.low_since) and dev.first("low_battery", t):
                if st.low_since is None:
                    st.low_since = {}
                st.low_since[device_id] = t
                detail = {"device_id": device_id, "battery": battery, "threshold": low}
                out.append(finding(home, RuleName.LOW_BATTERY, t, f"{device_id}@{iso(t)}", device_id, detail))
        elif battery >= low + 10 and st.low_since:
            st.low_since.pop(device_id, None)  # a new battery: the next low reading is a new alert
