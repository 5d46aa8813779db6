"""``device_offline``: a device with a heartbeat sent nothing for ``missed_intervals`` periods, or its
gateway reported it offline. A device that never sent a heartbeat is never declared offline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import EventName
from anju.domain import Rule as RuleName
from anju.engine.localtime import INF, UNSET, iso
from anju.engine.rules.base import Out, Rule, Sections, finding, forget_configured

if TYPE_CHECKING:
    from anju.domain import DeviceKind
    from anju.engine.pack import RulePack
    from anju.engine.state import Dev, Home

_HEARTBEAT, _ONLINE = EventName.HEARTBEAT, EventName.ONLINE


class Liveness:
    """When a device was last heard (from its first heartbeat on), and the silence alerted on."""

    __slots__ = ("last_seen", "offline_fired")

    def __init__(self) -> None:
        self.last_seen = UNSET
        self.offline_fired = UNSET


class DeviceOffline(Rule):
    name = "device_offline"
    sections: ClassVar[Sections] = {"device_offline": {"enabled": "bool", "missed_intervals": "int"}}
    instant = frozenset({EventName.OFFLINE})

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        s = pack.section("device_offline")
        self.enabled = bool(s["enabled"])
        self.missed = max(1, int(s["missed_intervals"]))

    def new_state(self) -> dict[str, Liveness]:
        return {}

    def dump(self, state: dict[str, Liveness], home: Home) -> dict[str, Any]:
        return {"devices": {d: [v.last_seen, v.offline_fired] for d, v in state.items()}}

    def load(self, state: dict[str, Liveness], data: dict[str, Any], home: Home) -> None:
        forget_configured(state, home)
        for device_id, (last_seen, offline_fired) in (data.get("devices") or {}).items():
            if device_id in home.devices:
                v = state[device_id] = Liveness()
                v.last_seen, v.offline_fired = float(last_seen), float(offline_fired)

    def load_legacy(self, state: dict[str, Liveness], data: dict[str, Any], home: Home) -> None:
        for d, v in (data.get("devices") or {}).items():
            last_seen, offline_fired = float(v.get("last_seen", UNSET)), float(v.get("offline_fired", UNSET))
            if d in home.devices:
                state.pop(d, None)
                if last_seen > 0 or offline_fired > 0:
                    live = state[d] = Liveness()
                    live.last_seen, live.offline_fired = last_seen, offline_fired

    def forget(self, home: Home, device_ids: set[str]) -> None:
        state: dict[str, Liveness] = home.states["device_offline"]
        for d in device_ids:
            state.pop(d, None)

    def heard(self, home: Home, dev: Dev, device_id: str, event: EventName, t: float) -> None:
        # Liveness is tracked from the first heartbeat on; any later message counts.
        state: dict[str, Liveness] = home.states["device_offline"]
        live = state.get(device_id)
        if live is None:
            if event is not _HEARTBEAT and event is not _ONLINE:
                return
            live = state[device_id] = Liveness()
        if t > live.last_seen and (live.last_seen > 0 or event is _HEARTBEAT or event is _ONLINE):
            rearm = live.last_seen <= 0 or live.offline_fired == live.last_seen
            live.last_seen = t
            if rearm and dev.heartbeat_s is not None:
                self.touch(home, t + self.missed * dev.heartbeat_s)

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        # The gateway says so (Zigbee2MQTT availability): no need to wait for missed heartbeats.
        if self.enabled and dev.first("offline", t):
            state: dict[str, Liveness] = home.states["device_offline"]
            live = state.get(device_id)
            if live is None:
                live = state[device_id] = Liveness()
            if t > live.last_seen:
                live.offline_fired = live.last_seen = t
            detail = {"device_id": device_id, "reported_by": "gateway availability"}
            out.append(
                finding(home, RuleName.DEVICE_OFFLINE, t, f"{device_id}@{iso(t)}:gateway", device_id, detail)
            )

    def _deadline(self, home: Home, device_id: str, live: Liveness) -> float:
        dev = home.devices.get(device_id)
        if dev is None or not dev.heartbeat_s or live.last_seen <= 0 or live.offline_fired == live.last_seen:
            return INF
        return live.last_seen + self.missed * dev.heartbeat_s

    def next_due(self, home: Home) -> float:
        due = INF
        if self.enabled:
            for device_id, live in home.states["device_offline"].items():
                d = self._deadline(home, device_id, live)
                if d < due:
                    due = d
        return due

    def fire(self, home: Home, due: float, out: Out) -> bool:
        if not self.enabled:
            return False
        fired = False
        state: dict[str, Liveness] = home.states["device_offline"]
        for device_id, live in state.items():
            if self._deadline(home, device_id, live) <= due:
                live.offline_fired = live.last_seen
                dev = home.devices[device_id]
                detail = {
                    "device_id": device_id,
                    "last_seen": iso(live.last_seen),
                    "heartbeat_s": dev.heartbeat_s,
                    "missed_intervals": self.missed,
                    "kind": dev.kind.value,
                }
                key = f"{device_id}@{iso(live.last_seen)}"
                out.append(finding(home, RuleName.DEVICE_OFFLINE, due, key, device_id, detail))
                fired = True
        return fired

    def offline_devices(self, home: Home) -> list[str]:
        state: dict[str, Liveness] = home.states["device_offline"]
        return [
            d
            for d in home.devices
            if (live := state.get(d)) is not None
            and live.offline_fired > 0
            and live.offline_fired == live.last_seen
        ]
