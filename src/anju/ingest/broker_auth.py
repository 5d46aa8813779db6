"""Broker credentials and ACLs from the device registry: only a home's own kit may speak for it.

Each gateway (or a device that logs in itself) gets its own MQTT user, kept in ``broker_credentials``
with a hash both brokers accept: Mosquitto's ``$7$`` PBKDF2-SHA512 string, whose ASCII salt and key
the PostgreSQL views ``mqtt_user`` / ``mqtt_acl`` (migration 0003) hand to EMQX. ``anju broker
write-auth`` renders Mosquitto's ``password_file`` and ``acl_file`` from the registry, replaces them
atomically only when their content changed and sends the broker SIGHUP so it reloads them;
``--watch`` keeps doing so as gateways and devices are added, rotated or removed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from anju.clock import Clock, RealClock
from anju.config import Settings, load_settings
from anju.domain import Protocol
from anju.errors import AnjuError, ConfigError
from anju.ingest.ingestor import CANARY_PREFIX
from anju.ingest.mqtt import BrokerAddress, parse_mqtt_url
from anju.ingest.profiles import PLACEHOLDER, Profile, load_profiles
from anju.store.db import SessionFactory, create_engine, session_factory, transaction
from anju.store.models import BrokerCredential, Device, Household

log = logging.getLogger(__name__)

#: PBKDF2 rounds. Gateway passwords are 192-bit random tokens, so rounds add nothing against guessing
#: them; a low count keeps a reconnect storm of every gateway cheap for the broker. EMQX must be
#: configured with the same number (``iterations = 1000``).
PBKDF2_ITERATIONS = 1000
#: Key length: SHA-512's, Mosquitto's and EMQX's default for ``mac_fun = sha512``.
KEY_BYTES = 64
#: Mosquitto 2 accepts exactly 12 salt bytes; 12 URL-safe ASCII characters (72 random bits) also read
#: as the same bytes from EMQX's text ``salt`` column.
SALT_CHARS = 12
GATEWAY = "gateway"
SERVICE = "service"
#: MQTT user names Anju issues: the kit's device id alphabet (no ``:`` or newline for the files).
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Characters that cannot be part of a literal topic level in an ACL (wildcards, separators, EMQX's
#: ``${...}`` placeholders and ``$SYS``-style prefixes, line breaks of the files).
_UNSAFE_LEVEL = re.compile(r"[+#/$\x00\r\n]")
CANARY_FILTER = CANARY_PREFIX + "#"
HEADER = "# Written by `anju broker write-auth` from the device registry; changes here are overwritten.\n"


# ---- hashes -------------------------------------------------------------------------------------


def hash_password(password: str, *, salt: str | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Mosquitto's ``$7$<iterations>$<base64 salt>$<base64 key>``, PBKDF2-HMAC-SHA512, ASCII salt."""
    salt = salt if salt is not None else secrets.token_urlsafe(9)
    if not salt.isascii() or len(salt) != SALT_CHARS:
        raise ValueError(
            f"the salt must be {SALT_CHARS} ASCII characters (Mosquitto reads exactly 12 salt bytes; "
            "EMQX uses the salt's text as its bytes)"
        )
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt.encode(), iterations, KEY_BYTES)
    return f"$7${iterations}${base64.b64encode(salt.encode()).decode()}${base64.b64encode(key).decode()}"


@dataclass(frozen=True, slots=True)
class ParsedHash:
    iterations: int
    salt: str
    key: bytes

    @property
    def emqx_hash(self) -> str:
        """The key as EMQX's pbkdf2 check compares it: lowercase hex."""
        return self.key.hex()


def parse_hash(encoded: str) -> ParsedHash:
    """The parts of a ``$7$`` hash; ValueError when it is not one."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7":
        raise ValueError("not a Mosquitto $7$ hash")
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True).decode("ascii")
        key = base64.b64decode(parts[4], validate=True)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"malformed $7$ hash: {err}") from err
    if iterations < 1 or len(salt) != SALT_CHARS or len(key) != KEY_BYTES:
        raise ValueError("malformed $7$ hash: bad iterations, salt or key length")
    return ParsedHash(iterations, salt, key)


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the ``$7$`` hash (constant time)."""
    try:
        parsed = parse_hash(encoded)
    except ValueError:
        return False
    key = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), parsed.salt.encode(), parsed.iterations, len(parsed.key)
    )
    return hmac.compare_digest(key, parsed.key)


def new_password() -> str:
    """A random gateway password (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise AnjuError(
            f"invalid MQTT user name {username!r}: use 1-64 of A-Z a-z 0-9 _ . - / "
            f"用户名无效：只能用 1-64 个字母、数字或 _ . -"
        )
    return username


# ---- credentials in the database --------------------------------------------------------------


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


# ---- the Mosquitto files ------------------------------------------------------------------------


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


# ---- start-up warning ---------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def broker_warnings(address: BrokerAddress) -> list[str]:
    """Why a connection to a broker off this machine is open to others (empty: it is not)."""
    if is_loopback(address.host):
        return []
    found: list[str] = []
    if not address.username:
        found.append(
            f"MQTT broker {address.host} is not on this machine and Anju logs in without credentials: "
            "anyone who can reach it may be able to fake alarms / "
            "MQTT 代理不在本机且未配置用户名密码，他人可能伪造报警"
        )
    if not address.tls:
        found.append(
            f"MQTT broker {address.host} is not on this machine and the connection is not encrypted "
            "(use mqtts://) / MQTT 代理不在本机且连接未加密（请用 mqtts://）"
        )
    return found


# ---- `anju broker ...` --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="broker_command", required=True)
    cred = sub.add_parser("credentials", help="issue or rotate a gateway's MQTT password (printed once)")
    cred.add_argument("gateway", help="MQTT user name of the gateway (1-64 of A-Z a-z 0-9 _ . -)")
    cred.add_argument("--household", default=None, help="the home whose devices it may publish")
    cred.add_argument("--device", default=None, help="only this device (a device that logs in itself)")
    rev = sub.add_parser("revoke", help="remove a gateway's credentials")
    rev.add_argument("gateway")
    write = sub.add_parser("write-auth", help="write Mosquitto's password_file and acl_file")
    write.add_argument("--password-file", type=Path, required=True)
    write.add_argument("--acl-file", type=Path, required=True)
    target = write.add_mutually_exclusive_group()
    target.add_argument("--reload-pid", type=int, default=None, help="broker pid to SIGHUP on change")
    target.add_argument("--pid-file", type=Path, default=None, help="Mosquitto's pid_file")
    write.add_argument("--watch", action="store_true", help="keep rewriting as the registry changes")
    write.add_argument("--interval", type=float, default=10.0, help="seconds between checks (--watch)")


def _service_user(settings: Settings) -> tuple[str, str]:
    if not settings.mqtt_url:
        raise ConfigError("ANJU_MQTT_URL is not set: Anju's own broker user comes from it")
    address = parse_mqtt_url(settings.mqtt_url)
    if not address.username or not address.password:
        raise ConfigError(
            "ANJU_MQTT_URL has no user and password (mqtt://anju:PASSWORD@host): Anju needs its own "
            "broker login / ANJU_MQTT_URL 须包含 Anju 的用户名和密码"
        )
    return address.username, address.password


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    db = session_factory(engine)
    try:
        return await _command(args, settings, db)
    except SQLAlchemyError as err:
        raise AnjuError(
            f"database error ({type(err).__name__}: {getattr(err, 'orig', None) or err}); is the database "
            "reachable and upgraded (`anju db upgrade`)? / 数据库错误"
        ) from err
    finally:
        await engine.dispose()


async def _command(args: argparse.Namespace, settings: Settings, db: SessionFactory) -> int:
    if args.broker_command == "credentials":
        password = await issue_gateway(db, args.gateway, household_id=args.household, device_id=args.device)
        print(
            f"MQTT password for gateway {args.gateway}, shown only this once; put it in the gateway, "
            f"then run `anju broker write-auth` (or let --watch do it).\n"
            f"网关 {args.gateway} 的 MQTT 密码仅显示这一次，请写入网关。",
            flush=True,
        )
        print(password, flush=True)
        return 0
    if args.broker_command == "revoke":
        if not await revoke(db, args.gateway):
            raise AnjuError(f"no gateway {args.gateway!r} / 网关不存在")
        print(f"revoked {args.gateway} / 已吊销", flush=True)
        return 0
    profiles = load_profiles(settings.sensors_dir)
    target = BrokerFiles(args.password_file, args.acl_file, args.reload_pid, args.pid_file)
    service_user = _service_user(settings)
    if args.watch:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await watch(db, profiles, target, stop, service_user=service_user, interval_s=max(0.1, args.interval))
        return 0
    result = await write_auth(db, profiles, target, service_user=service_user)
    state = "written" if result.changed else "unchanged"
    print(f"broker files {state}{' and broker reloaded' if result.reloaded else ''}", flush=True)
    for reason in result.skipped:
        print(f"left out / 未写入: {reason}", flush=True)
    return 0
