"""Helpers shared by the ingest tests: registered households and devices, a decoder, a publisher."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from anju.clock import isoformat
from anju.config import PROJECT_ROOT
from anju.domain import DeviceKind, Protocol
from anju.ingest.decode import Decoder, DeviceInfo
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
