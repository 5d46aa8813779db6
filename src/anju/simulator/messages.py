"""One message as a device publishes it: its topic, its payload in either shape (anju kit v1,
Zigbee2MQTT) with the device clock's RFC 3339 time, the fault it carries, and deliberately broken
payloads."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from anju.kinds import SENSOR_KINDS_BY_NAME
from anju.simulator.fleet import KIT, ZIGBEE, SimDevice
from anju.simulator.routine import TAMPER

HEARTBEAT = "heartbeat"
ONLINE = "online"
OFFLINE = "offline"
#: The occupancy clear a Zigbee2MQTT motion sensor reports after the last motion.
CLEAR = "clear"
#: The server trusts a device clock within this of the receive time (CONTRACT.md section 1).
MAX_SKEW_S = 300.0
MAX_PAYLOAD = 4096

#: Fault tags carried by messages; ``lost`` ones are never delivered.
LOST = "lost"
DUPLICATE = "duplicate"
REORDER = "reorder"
BURST = "burst"
CLOCK_JUMP = "clock_jump"
MALFORMED = "malformed"
REBOOT = "reboot"


class TsFormatter:
    """RFC 3339 with milliseconds and the zone's offset, fast: the local hour's prefix is cached."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[int, tuple[str, str, int]] = {}

    def _head(self, hour: int) -> tuple[str, str, int]:
        if len(self._hours) > 20000:
            self._hours.clear()
        dt = datetime.fromtimestamp(hour * 3600, self.tz)
        off = dt.utcoffset()
        secs = int(off.total_seconds()) if off is not None else 0
        sign = "+" if secs >= 0 else "-"
        hh, mm = divmod(abs(secs) // 60, 60)
        head = (dt.strftime("%Y-%m-%dT%H:"), f"{sign}{hh:02d}:{mm:02d}", secs)
        self._hours[hour] = head
        return head

    def __call__(self, t: float) -> str:
        ms = round(t * 1000.0)
        hour, rest = divmod(ms, 3_600_000)
        head = self._hours.get(hour) or self._head(hour)
        if head[2] % 3600:
            # An offset with minutes (e.g. +05:45) does not keep the local hour within a UTC hour.
            return datetime.fromtimestamp(ms / 1000.0, self.tz).isoformat(timespec="milliseconds")
        minute, rest = divmod(rest, 60000)
        sec, milli = divmod(rest, 1000)
        return f"{head[0]}{minute:02d}:{sec:02d}.{milli:03d}{head[1]}"


@lru_cache(maxsize=64)
def formatter(tz_name: str) -> TsFormatter:
    """One shared formatter per time zone."""
    return TsFormatter(ZoneInfo(tz_name))


@dataclass(slots=True)
class Message:
    """One message on the broker (or one that was lost on the way), with its fault if any."""

    publish_t: float
    household_id: str
    device: SimDevice
    event: str
    #: True time the event happened (the heartbeat was due).
    event_t: float
    #: The device's clock; None for Zigbee2MQTT, which carries no time.
    ts: float | None
    seq: int | None
    battery: int
    rssi: int
    fault: str | None = None
    body: bytes | None = None
    retain: bool = False

    @property
    def delivered(self) -> bool:
        return self.fault != LOST

    @property
    def malformed(self) -> bool:
        return self.fault == MALFORMED

    @property
    def topic(self) -> str:
        d = self.device
        if d.protocol == ZIGBEE:
            base = f"zigbee2mqtt/{d.external_name}"
            return f"{base}/availability" if self.event in (ONLINE, OFFLINE) else base
        return f"anju/v1/{d.id}/{HEARTBEAT if self.event == HEARTBEAT else 'event'}"

    @property
    def server_time(self) -> float:
        """The time the server's rules use: the device clock, unless it is more than 5 min off."""
        if self.ts is None or abs(self.ts - self.publish_t) > MAX_SKEW_S:
            return self.publish_t
        return self.ts

    def payload(self, fmt: TsFormatter) -> bytes:
        if self.body is None:
            self.body = json.dumps(self._fields(fmt), separators=(",", ":")).encode()
        return self.body

    def _fields(self, fmt: TsFormatter) -> dict[str, object] | str:
        d = self.device
        if d.protocol == ZIGBEE:
            if self.event in (ONLINE, OFFLINE):
                return {"state": self.event}
            lq = max(0, min(255, 255 + 2 * self.rssi))
            voltage = 2800 + 4 * self.battery
            # The kind's own state payload (contact, occupancy, action), from the kind table.
            encode = SENSOR_KINDS_BY_NAME[d.type].zigbee
            fields = encode(self.event, self.battery, lq, voltage) if encode is not None else None
            if fields is not None:
                return fields
            if self.event == TAMPER:
                return {"battery": self.battery, "linkquality": lq, "tamper": True, "voltage": voltage}
            return {"battery": self.battery, "linkquality": lq, "voltage": voltage}
        assert self.ts is not None and self.seq is not None
        ts: str | int = round(self.ts * 1000) if d.epoch_ms else fmt(self.ts)
        if self.event == HEARTBEAT:
            return {
                "seq": self.seq,
                "ts": ts,
                "battery": self.battery,
                "rssi": self.rssi,
                "fw": d.fw or "1.4.2",
            }
        return {
            "seq": self.seq,
            "ts": ts,
            "type": d.type,
            "event": self.event,
            "battery": self.battery,
            "rssi": self.rssi,
        }


def malformed_body(rng: random.Random, msg: Message, fmt: TsFormatter) -> tuple[bytes, str]:
    """A deliberately broken payload for ``msg`` and why it is broken."""
    good = json.loads(msg.payload(fmt))
    msg.body = None
    choice = rng.randrange(5 if msg.device.protocol == KIT else 3)
    if choice == 0:
        return json.dumps(good).encode()[:17], "truncated JSON"
    if choice == 1:
        return b"\xff\xfe not json", "not UTF-8 JSON"
    if choice == 2:
        return json.dumps([good]).encode(), "not a JSON object"
    if choice == 3:
        return json.dumps({**good, "seq": str(good.get("seq")), "event": "explode"}).encode(), "wrong types"
    return json.dumps({**good, "junk": "x" * MAX_PAYLOAD}).encode(), "over 4 KiB"
