"""The ingestor's cache of registered devices, so decoding needs no query per message.

A device registered through the API while the ingestor runs is found on its first message: a miss
triggers a targeted query (at most once a second per identity, so a chatty unregistered device
cannot hammer the database), and the whole cache is reloaded every ``full_reload_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select

from anju.domain import DeviceKind, Protocol
from anju.ingest.decode import DeviceInfo
from anju.store.db import SessionFactory
from anju.store.models import Device

log = logging.getLogger(__name__)

MISS_RETRY_S = 1.0
FULL_RELOAD_S = 60.0
#: Remembered misses; beyond this the oldest are forgotten (a flood of random ids stays bounded).
MAX_MISSES = 10_000


class DeviceRegistry:
    """Device id and Zigbee2MQTT friendly name -> household, kind, protocol and profile."""

    def __init__(
        self, db: SessionFactory, *, miss_retry_s: float = MISS_RETRY_S, full_reload_s: float = FULL_RELOAD_S
    ) -> None:
        self._db = db
        self._miss_retry_s = miss_retry_s
        self._full_reload_s = full_reload_s
        self._by_id: dict[str, DeviceInfo] = {}
        self._by_name: dict[str, DeviceInfo] = {}
        self._misses: dict[tuple[Protocol, str], float] = {}
        self._loaded_at: float | None = None

    def __len__(self) -> int:
        return len(self._by_id)

    def lookup(self, protocol: Protocol, key: str) -> DeviceInfo | None:
        """The device a topic names: kit devices by id, Zigbee2MQTT devices by friendly name."""
        if protocol is Protocol.ZIGBEE2MQTT:
            return self._by_name.get(key)
        return self._by_id.get(key)

    @property
    def stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self._full_reload_s

    async def reload(self) -> None:
        """Load every device afresh (also drops devices that were deleted or changed)."""
        async with self._db() as session:
            rows = (await session.execute(_columns())).all()
        by_id: dict[str, DeviceInfo] = {}
        by_name: dict[str, DeviceInfo] = {}
        for row in rows:
            info = _info(row)
            if info is None:
                continue
            by_id[info.device_id] = info
            if info.external_name:
                by_name[info.external_name] = info
        self._by_id, self._by_name = by_id, by_name
        self._misses.clear()
        self._loaded_at = time.monotonic()
        log.debug("device registry loaded: %d devices", len(by_id))

    async def resolve(self, misses: Iterable[tuple[Protocol, str]]) -> int:
        """Look up identities not in the cache; returns how many were found and cached."""
        now = time.monotonic()
        wanted = [miss for miss in set(misses) if now - self._misses.get(miss, -1e9) >= self._miss_retry_s]
        if not wanted:
            return 0
        ids = [key for protocol, key in wanted if protocol is not Protocol.ZIGBEE2MQTT]
        names = [key for protocol, key in wanted if protocol is Protocol.ZIGBEE2MQTT]
        conditions: list[Any] = []
        if ids:
            conditions.append(Device.id.in_(ids))
        if names:
            conditions.append(Device.external_name.in_(names))
        async with self._db() as session:
            rows = (await session.execute(_columns().where(or_(*conditions)))).all()
        found = 0
        for row in rows:
            info = _info(row)
            if info is None:
                continue
            self._by_id[info.device_id] = info
            if info.external_name:
                self._by_name[info.external_name] = info
            found += 1
        for miss in wanted:
            if self.lookup(*miss) is None:
                self._misses[miss] = now
        if len(self._misses) > MAX_MISSES:
            for old in sorted(self._misses, key=self._misses.__getitem__)[: len(self._misses) // 2]:
                del self._misses[old]
        return found


def _columns() -> Any:
    return select(
        Device.id, Device.household_id, Device.type, Device.protocol, Device.profile, Device.external_name
    )


def _info(row: Sequence[Any]) -> DeviceInfo | None:
    device_id, household_id, kind, protocol, profile, external_name = row
    try:
        return DeviceInfo(
            device_id=device_id,
            household_id=household_id,
            kind=DeviceKind(kind),
            protocol=Protocol(protocol),
            profile=profile,
            external_name=external_name,
        )
    except ValueError:
        log.error(
            "device %s has an unknown type %r or protocol %r; messages from it are listed as unknown",
            device_id,
            kind,
            protocol,
        )
        return None
