"""Mosquitto's password and ACL files from the registry: written only on change, SIGHUP, watched."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from anju.clock import Clock
from anju.domain import Protocol
from anju.errors import AnjuError
from anju.ingest.broker_auth.credentials import SERVICE, ensure_service_user
from anju.ingest.broker_auth.hashes import USERNAME, parse_hash
from anju.ingest.ingestor import CANARY_PREFIX
from anju.ingest.profiles import PLACEHOLDER, Profile
from anju.store.db import SessionFactory
from anju.store.models import BrokerCredential, Device

log = logging.getLogger("anju.ingest.broker_auth")

#: Characters that cannot be part of a literal topic level in an ACL (wildcards, separators, EMQX's
#: ``${...}`` placeholders and ``$SYS``-style prefixes, line breaks of the files).
_UNSAFE_LEVEL = re.compile(r"[+#/$\x00\r\n]")
CANARY_FILTER = CANARY_PREFIX + "#"
HEADER = "# Written by `anju broker write-auth` from the device registry; changes here are overwritten.\n"


@dataclass
class AuthFiles:
    """The rendered ``password_file`` and ``acl_file``, and what was left out and why."""

    passwords: str
    acl: str
    skipped: list[str] = field(default_factory=list)


def device_topics(
    device_id: str,
    protocol: str,
    profile_name: str,
    external_name: str | None,
    profiles: Mapping[str, Profile],
) -> tuple[list[str], str | None]:
    """The topics a device publishes on, or a reason why it gets none."""
    profile = profiles.get(profile_name)
    if profile is None:
        return [], f"device {device_id!r}: unknown profile {profile_name!r}"
    if profile.protocol.value != protocol:
        return [], f"device {device_id!r}: protocol {protocol!r} differs from its profile's"
    identity = external_name if profile.protocol is Protocol.ZIGBEE2MQTT else device_id
    if profile.protocol is Protocol.ANJU_V1 and not USERNAME.match(device_id):
        return [], f"device {device_id!r}: not a kit device id"
    if not identity or _UNSAFE_LEVEL.search(identity) or identity != identity.strip():
        return [], f"device {device_id!r}: {identity!r} cannot be a literal topic level"
    placeholder = PLACEHOLDER[profile.protocol]
    return sorted(t.replace(placeholder, identity) for t in profile.topics.values()), None


def service_read_filters(profiles: Mapping[str, Profile]) -> list[str]:
    """The topic filters Anju subscribes to (every profile topic with ``+`` for the identity)."""
    return sorted(
        {t.replace(PLACEHOLDER[p.protocol], "+") for p in profiles.values() for t in p.topics.values()}
    )


async def render(db: SessionFactory, profiles: Mapping[str, Profile]) -> AuthFiles:
    """The password and ACL files for every credential, from the registry as it is now."""
    async with db() as session:
        creds = (
            await session.execute(select(BrokerCredential).order_by(BrokerCredential.username))
        ).scalars()
        creds_list = list(creds)
        rows = (
            await session.execute(
                select(Device.id, Device.household_id, Device.protocol, Device.profile, Device.external_name)
            )
        ).all()
    by_household: dict[str, list[tuple[str, str, str, str | None]]] = {}
    by_id: dict[str, tuple[str, str, str, str | None]] = {}
    for device_id, household_id, protocol, profile, external in rows:
        by_household.setdefault(household_id, []).append((device_id, protocol, profile, external))
        by_id[device_id] = (device_id, protocol, profile, external)
    files = AuthFiles(passwords="", acl=HEADER)
    password_lines: list[str] = []
    for cred in creds_list:
        if not USERNAME.match(cred.username):
            files.skipped.append(f"user {cred.username!r}: invalid name")
            continue
        try:
            parse_hash(cred.password_hash)
        except ValueError as err:
            files.skipped.append(f"user {cred.username!r}: {err}")
            continue
        password_lines.append(f"{cred.username}:{cred.password_hash}\n")
        lines = [f"\nuser {cred.username}\n"]
        if cred.role == SERVICE:
            lines += [f"topic read {t}\n" for t in service_read_filters(profiles)]
            lines.append(f"topic readwrite {CANARY_FILTER}\n")
        else:
            if cred.device_id is not None:
                devices = [by_id[cred.device_id]] if cred.device_id in by_id else []
            else:
                devices = by_household.get(cred.household_id or "", [])
            for device in sorted(devices):
                topics, reason = device_topics(*device, profiles)
                if reason:
                    files.skipped.append(f"user {cred.username!r}: {reason}")
                lines += [f"topic write {t}\n" for t in topics]
        files.acl += "".join(lines)
    files.passwords = "".join(password_lines)
    return files


def write_if_changed(path: Path, content: str, *, mode: int = 0o640) -> bool:
    """Replace ``path`` atomically (temporary file, fsync, rename) when its content differs."""
    try:
        if path.read_text(encoding="utf-8") == content:
            return False
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as err:
        log.warning("%s unreadable (%s); rewriting it", path, err)
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        try:
            # Keep the owner and mode the operator gave the file (e.g. group mosquitto, 0640): the
            # broker rereads it after dropping privileges.
            current = path.stat()
            mode = current.st_mode & 0o777
            with contextlib.suppress(PermissionError):
                os.chown(tmp, current.st_uid, current.st_gid)
        except FileNotFoundError:
            pass
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def broker_pid(pid: int | None, pid_file: Path | None) -> int | None:
    """The broker's process id, from ``--reload-pid`` or Mosquitto's ``pid_file``."""
    if pid is not None or pid_file is None:
        return pid
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError) as err:
        raise AnjuError(f"cannot read the broker's pid from {pid_file}: {err} / 无法读取代理进程号") from err


def reload_broker(pid: int) -> None:
    """SIGHUP: Mosquitto rereads its password and ACL files without dropping connections."""
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError as err:
        raise AnjuError(f"no broker process {pid} to reload / 代理进程 {pid} 不存在") from err
    except PermissionError as err:
        raise AnjuError(f"not allowed to signal broker process {pid} / 无权向代理进程发信号") from err


@dataclass
class WriteResult:
    changed: bool
    reloaded: bool
    skipped: list[str]


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """Where Mosquitto reads its logins and rules, and which process to tell when they change."""

    password_file: Path
    acl_file: Path
    pid: int | None = None
    pid_file: Path | None = None


async def write_auth(
    db: SessionFactory,
    profiles: Mapping[str, Profile],
    target: BrokerFiles,
    *,
    service_user: tuple[str, str] | None,
    clock: Clock | None = None,
) -> WriteResult:
    """Render both files, write those that changed and, if any did, make the broker reload them."""
    if service_user is not None:
        await ensure_service_user(db, *service_user, clock=clock)
    files = await render(db, profiles)
    for reason in files.skipped:
        log.warning("broker ACL: left out %s", reason)
    try:
        changed = write_if_changed(target.password_file, files.passwords)
        changed = write_if_changed(target.acl_file, files.acl) or changed
    except OSError as err:
        raise AnjuError(f"cannot write the broker files: {err} / 无法写入代理的密码或权限文件") from err
    reloaded = False
    if changed:
        pid = broker_pid(target.pid, target.pid_file)
        if pid is not None:
            reload_broker(pid)
            reloaded = True
        log.info(
            "broker files written (%s, %s)%s",
            target.password_file,
            target.acl_file,
            " and reloaded" if reloaded else "",
        )
    return WriteResult(changed, reloaded, files.skipped)


async def watch(
    db: SessionFactory,
    profiles: Mapping[str, Profile],
    target: BrokerFiles,
    stop: asyncio.Event,
    *,
    service_user: tuple[str, str] | None,
    interval_s: float,
) -> None:
    """Rewrite and reload whenever the registry changes, until ``stop``; errors are logged and retried."""
    while not stop.is_set():
        try:
            await write_auth(db, profiles, target, service_user=service_user)
        except AnjuError as err:
            log.error("broker files not written: %s", err)
        except Exception as err:  # a watcher must outlive a database outage
            log.error("broker files not written: %s: %s", type(err).__name__, err)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
