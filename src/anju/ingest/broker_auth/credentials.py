"""Gateway and service MQTT users in ``broker_credentials``: issued, rotated, revoked."""

from __future__ import annotations

from sqlalchemy import delete

from anju.clock import Clock, RealClock
from anju.errors import AnjuError
from anju.ingest.broker_auth.hashes import check_username, hash_password, new_password, verify_password
from anju.store.db import SessionFactory, transaction
from anju.store.models import BrokerCredential, Device, Household

GATEWAY = "gateway"
SERVICE = "service"


async def issue_gateway(
    db: SessionFactory,
    username: str,
    *,
    household_id: str | None = None,
    device_id: str | None = None,
    clock: Clock | None = None,
) -> str:
    """Create or rotate a gateway's credentials; returns the new password (shown once, never stored)."""
    check_username(username)
    now = (clock or RealClock()).now()
    password = new_password()
    async with transaction(db) as session:
        cred = await session.get(BrokerCredential, username)
        if cred is not None and cred.role != GATEWAY:
            raise AnjuError(f"{username!r} is Anju's own broker user, not a gateway / 这是 Anju 自己的用户")
        if device_id is not None:
            device = await session.get(Device, device_id)
            if device is None:
                raise AnjuError(f"no device {device_id!r} / 设备不存在")
            if household_id is not None and household_id != device.household_id:
                raise AnjuError(
                    f"device {device_id!r} belongs to {device.household_id!r}, not {household_id!r} / "
                    "设备不属于该家庭"
                )
            household_id = device.household_id
        if household_id is not None and await session.get(Household, household_id) is None:
            raise AnjuError(f"no household {household_id!r} / 家庭不存在")
        if cred is None:
            if household_id is None:
                raise AnjuError(
                    f"new gateway {username!r}: give --household (or --device) / 新网关须指定 --household"
                )
            session.add(
                BrokerCredential(
                    username=username,
                    role=GATEWAY,
                    household_id=household_id,
                    device_id=device_id,
                    password_hash=hash_password(password),
                    created_at=now,
                    rotated_at=now,
                )
            )
        else:
            if household_id is not None:
                cred.household_id = household_id
                cred.device_id = device_id
            cred.password_hash = hash_password(password)
            cred.rotated_at = now
    return password


async def revoke(db: SessionFactory, username: str) -> bool:
    """Remove a gateway's credentials; True if there were any."""
    async with transaction(db) as session:
        result = await session.execute(
            delete(BrokerCredential).where(
                BrokerCredential.username == username, BrokerCredential.role == GATEWAY
            )
        )
    return bool(getattr(result, "rowcount", 0))


async def ensure_service_user(
    db: SessionFactory, username: str, password: str, *, clock: Clock | None = None
) -> bool:
    """Anju's own user, hashed from its configured password; True when it was created or changed."""
    check_username(username)
    now = (clock or RealClock()).now()
    async with transaction(db) as session:
        cred = await session.get(BrokerCredential, username)
        if cred is not None and cred.role != SERVICE:
            raise AnjuError(
                f"Anju's broker user {username!r} is also a gateway's name: rename one / "
                "Anju 的用户名与某网关重名"
            )
        # Anju's previous user name, if it changed, must not keep its access.
        stale = await session.execute(
            delete(BrokerCredential).where(
                BrokerCredential.role == SERVICE, BrokerCredential.username != username
            )
        )
        if cred is not None and verify_password(password, cred.password_hash):
            return bool(getattr(stale, "rowcount", 0))
        if cred is None:
            session.add(
                BrokerCredential(
                    username=username,
                    role=SERVICE,
                    password_hash=hash_password(password),
                    created_at=now,
                    rotated_at=now,
                )
            )
        else:
            cred.password_hash = hash_password(password)
            cred.rotated_at = now
    return True
