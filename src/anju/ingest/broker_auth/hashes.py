"""Password hashes both brokers accept: Mosquitto's ``$7$`` PBKDF2-SHA512 string, read by EMQX too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from anju.errors import AnjuError

#: PBKDF2 rounds. Gateway passwords are 192-bit random tokens, so rounds add nothing against guessing
#: them; a low count keeps a reconnect storm of every gateway cheap for the broker. EMQX must be
#: configured with the same number (``iterations = 1000``).
PBKDF2_ITERATIONS = 1000
#: Key length: SHA-512's, Mosquitto's and EMQX's default for ``mac_fun = sha512``.
KEY_BYTES = 64
#: Mosquitto 2 accepts exactly 12 salt bytes; 12 URL-safe ASCII characters (72 random bits) also read
#: as the same bytes from EMQX's text ``salt`` column.
SALT_CHARS = 12
#: MQTT user names Anju issues: the kit's device id alphabet (no ``:`` or newline for the files).
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


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
