"""``device_offline``: a device with a heartbeat sent nothing for ``missed_intervals`` periods, or its
gateway reported it offline. A device that never sent a heartbeat is never declared offline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


class OfflineState:
    """Device id -> the ``last_seen`` whose silence was alerted on (None: none yet). When each device
    was last heard is the device's own ``Dev.last_seen``, which this rule keeps."""

    offline: dict[str, float] | None = None
    #: The home's devices that send heartbeats (None: none), as configured.
    watched: tuple[str, ...] | None = None


class DeviceOffline(Rule):
    name = "device_offline"
    sections: ClassVar[Sections] = {"device_offline": {"enabled": "bool", "missed_intervals": "int"}}
    instant = frozenset({EventName.OFFLINE})
    state = OfflineState

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        s = pack.section("device_offline")
        self.enabled = bool(s["enabled"])
        self.missed = max(1, int(s["missed_intervals"]))

    def dump(self, home: Home) -> dict[str, Any]:
        st: OfflineState = home.states
        offline = st.offline or {}
        return {
            "devices": {
                d: [dev.last_seen, offline.get(d, UNSET)]
                for d, dev in home.devices.items()
                if dev.last_seen > 0 or d in offline
            }
        }

    def load(self, data: dict[str, Any], home: Home) -> None:
        self._load(home, ((d, v[0], v[1]) for d, v in (data.get("devices") or {}).items()))

    def load_legacy(self, data: dict[str, Any], home: Home) -> None:
        rows = (data.get("devices") or {}).items()
        self._load(home, ((d, v.get("last_seen", UNSET), v.get("offline_fired", UNSET)) for d, v in rows))

    @staticmethod
    def _load(home: Home, rows: Iterable[tuple[str, Any, Any]]) -> None:
        st: OfflineState = home.states
        offline = st.offline = forget_configured(st.offline, home)
        for dev in home.devices.values():
            dev.last_seen = UNSET
        for device_id, last_seen, offline_fired in rows:
            known = home.devices.get(device_id)
            if known is not None:
                known.last_seen = float(last_seen)
                if float(offline_fired) > 0:
                    offline[device_id] = float(offline_fired)

    def reconfigured(self, home: Home) -> None:
        st: OfflineState = home.states
        st.watched = tuple(d for d, dev in home.devices.items() if dev.heartbeat_s) or None

    def forget(self, home: Home, device_ids: set[str]) -> None:
        st: OfflineState = home.states
        if st.offline:
            for d in device_ids:
                st.offline.pop(d, None)

    def heard(self, home: Home, dev: Dev, device_id: str, event: EventName, t: float) -> None:
        # Liveness is tracked from the first heartbeat on; any later message counts.
        last = dev.last_seen
        if t > last and (last > 0 or event is _HEARTBEAT or event is _ONLINE):
            offline: dict[str, float] | None = home.states.offline
            rearm = last <= 0 or (offline is not None and offline.get(device_id, UNSET) == last)
            dev.last_seen = t
            if rearm and dev.heartbeat_s is not None:
                self.touch(home, t + self.missed * dev.heartbeat_s)

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        # The gateway says so (Zigbee2MQTT availability): no need to wait for missed heartbeats.
        if self.enabled and dev.first("offline", t):
            if t > dev.last_seen:
                self._offline(home)[device_id] = dev.last_seen = t
            detail = {"device_id": device_id, "reported_by": "gateway availability"}
            key = f"{device_id}@{iso(t)}:gateway"
            out.append(finding(home, RuleName.DEVICE_OFFLINE, t, key, device_id, detail))

    @staticmethod
    def _offline(home: Home) -> dict[str, float]:
        st: OfflineState = home.states
        if st.offline is None:
            st.offline = {}
        return st.offline

    def _deadline(self, dev: Dev, device_id: str, offline: dict[str, float] | None) -> float:
        last = dev.last_seen
        if not dev.heartbeat_s or last <= 0:
            return INF
        if offline is not None and offline.get(device_id, UNSET) == last:
            return INF
        return last + self.missed * dev.heartbeat_s

    def next_due(self, home: Home) -> float:
        st: OfflineState = home.states
        due = INF
        if self.enabled and st.watched:
            devices = home.devices
            for device_id in st.watched:
                d = self._deadline(devices[device_id], device_id, st.offline)
                if d < due:
                    due = d
        return due

    def fire(self, home: Home, due: float, out: Out) -> bool:
        st: OfflineState = home.states
        if not self.enabled or not st.watched:
            return False
        fired = False
        for device_id in st.watched:
            dev = home.devices[device_id]
            if self._deadline(dev, device_id, st.offline) <= due:
                self._offline(home)[device_id] = dev.last_seen
                detail = {
                    "device_id": device_id,
                    "last_seen": iso(dev.last_seen),
                    "heartbeat_s": dev.heartbeat_s,
                    "missed_intervals": self.missed,
                    "kind": dev.kind.value,
                }
                key = f"{device_id}@{iso(dev.last_seen)}"
                out.append(finding(home, RuleName.DEVICE_OFFLINE, due, key, device_id, detail))
                fired = True
        return fired

    def offline_devices(self, home: Home) -> list[str]:
        offline: dict[str, float] = home.states.offline or {}
        return [d for d, dev in home.devices.items() if 0 < offline.get(d, UNSET) == dev.last_seen]
