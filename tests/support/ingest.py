"""Helpers shared by the ingest tests: registered households and devices, a decoder, a publisher."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from anju.clock import isoformat
from anju.config import PROJECT_ROOT
from anju.domain import DeviceKind, Protocol
from anju.ingest.decode import Decoder, DeviceInfo
from anju.ingest.mqtt import parse_mqtt_url
from anju.ingest.profiles import load_profiles
from anju.store.db import SessionFactory, transaction
from anju.store.models import Device, Household

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
PROFILES = load_profiles(PROJECT_ROOT / "sensors")
DEFAULT_PROFILE = {
    (Protocol.ANJU_V1, DeviceKind.DOOR): "anju-door",
    (Protocol.ANJU_V1, DeviceKind.PIR): "anju-pir",
    (Protocol.ANJU_V1, DeviceKind.BUTTON): "anju-button",
    (Protocol.ZIGBEE2MQTT, DeviceKind.DOOR): "aqara-door",
    (Protocol.ZIGBEE2MQTT, DeviceKind.PIR): "aqara-pir",
    (Protocol.ZIGBEE2MQTT, DeviceKind.BUTTON): "aqara-button",
}


def uid() -> str:
    return uuid.uuid4().hex[:10]


def decoder() -> Decoder:
    return Decoder(PROFILES, max_clock_skew_s=300)


def info(
    device_id: str,
    kind: DeviceKind,
    *,
    household_id: str = "h-1",
    protocol: Protocol = Protocol.ANJU_V1,
    external_name: str | None = None,
) -> DeviceInfo:
    return DeviceInfo(
        device_id=device_id,
        household_id=household_id,
        kind=kind,
        protocol=protocol,
        profile=DEFAULT_PROFILE[(protocol, kind)],
        external_name=external_name,
    )


async def register(
    db: SessionFactory,
    household_id: str,
    devices: list[tuple[str, DeviceKind]] | list[tuple[str, DeviceKind, str]],
    *,
    protocol: Protocol = Protocol.ANJU_V1,
) -> None:
    """A household and its devices, written with the ORM; a third tuple item is a z2m friendly name."""
    async with transaction(db) as session:
        if await session.get(Household, household_id) is None:
            session.add(
                Household(id=household_id, name=f"home {household_id}", created_at=NOW, updated_at=NOW)
            )
            await session.flush()
        for item in devices:
            device_id, kind = item[0], item[1]
            external = item[2] if len(item) > 2 else None  # type: ignore[misc]
            session.add(
                Device(
                    id=device_id,
                    household_id=household_id,
                    type=kind.value,
                    protocol=protocol.value,
                    profile=DEFAULT_PROFILE[(protocol, kind)],
                    external_name=external,
                    created_at=NOW,
                )
            )


def kit_payload(seq: int, ts: datetime | int | str, **fields: Any) -> bytes:
    body: dict[str, Any] = {"seq": seq, "ts": isoformat(ts) if isinstance(ts, datetime) else ts}
    body.update(fields)
    return json.dumps(body).encode()


class Publisher:
    """A paho publisher on its own network thread; ``publish`` returns once the broker has the message."""

    def __init__(
        self, url: str, *, username: str | None = None, password: str | None = None, v311: bool = False
    ):
        address = parse_mqtt_url(url)
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-pub-{uid()}",
            protocol=paho.MQTTv311 if v311 else paho.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.connect(address.host, address.port)
        self.client.loop_start()

    async def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        await asyncio.to_thread(info.wait_for_publish, 10)
        assert info.is_published(), f"the broker did not acknowledge {topic}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def eventually(check: Any, within_s: float = 10.0, interval: float = 0.05) -> Any:
    """Polls the async ``check`` until it returns something truthy; fails with its last result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        result = await check()
        if result or loop.time() > deadline:
            assert result, f"not reached within {within_s} s: {result!r}"
            return result
        await asyncio.sleep(interval)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mosquitto(port: int, workdir: Any) -> Any:
    """A private Mosquitto with on-disk persistence, for tests that restart the broker."""
    import getpass
    import os
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {workdir}/\nmax_queued_messages 10000\n"
        # Run as root, mosquitto would switch to user "mosquitto" and fail to write the test's folder.
        + (f"user {getpass.getuser()}\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("mosquitto did not start")
