"""Signed short links for responders reached by SMS: one incident, one contact, a limited time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from anju.clock import RealClock
from anju.config import Settings

_VERSION = 1
_BODY = struct.Struct(">BIII")  # version, incident id, contact id, expiry (epoch seconds)
#: 96 bits of HMAC-SHA256: forging one link takes ~2^95 tries, far past any rate limit.
_MAC_BYTES = 12
_U32 = 2**32


class InvalidLink(ValueError):
    """A responder link that is malformed, forged or expired; ``reason`` is a catalog key suffix."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class ResponderGrant:
    """What a valid link allows: this contact may see and act on this incident until ``expires_at``."""

    incident_id: int
    contact_id: int
    expires_at: datetime


def _key(settings: Settings) -> bytes:
    # A key derived for this purpose only, so a link MAC can never pass as a JWT signature.
    return hashlib.sha256(
        b"anju/responder-link/v1\0" + settings.secret_key.get_secret_value().encode()
    ).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_responder_token(settings: Settings, incident_id: int, contact_id: int, expires_at: datetime) -> str:
    """The URL-safe token for ``/r/{token}``."""
    expiry = int(expires_at.timestamp())
    if not (0 < incident_id < _U32 and 0 < contact_id < _U32 and 0 < expiry < _U32):
        raise ValueError("incident id, contact id and expiry must fit in 32 bits")
    body = _BODY.pack(_VERSION, incident_id, contact_id, expiry)
    mac = hmac.new(_key(settings), body, hashlib.sha256).digest()[:_MAC_BYTES]
    return _b64(body + mac)


def read_responder_token(settings: Settings, token: str, *, now: datetime) -> ResponderGrant:
    """Check a token's signature and expiry; raise :class:`InvalidLink` with the reason."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as err:
        raise InvalidLink("malformed") from err
    if len(raw) != _BODY.size + _MAC_BYTES:
        raise InvalidLink("malformed")
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    expected = hmac.new(_key(settings), body, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise InvalidLink("forged")
    version, incident_id, contact_id, expiry = _BODY.unpack(body)
    if version != _VERSION:
        raise InvalidLink("malformed")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise InvalidLink("expired")
    return ResponderGrant(incident_id=incident_id, contact_id=contact_id, expires_at=expires_at)


def public_base_url(settings: Settings) -> str:
    """Where phones reach the console: ``ANJU_PUBLIC_URL``, else the HTTP listener."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.http_host}:{settings.http_port}"


def make_responder_link(
    settings: Settings, incident_id: int, contact_id: int, ttl_s: int, *, now: datetime | None = None
) -> str:
    """A short link for an SMS: the responder's phone page for this incident, valid ``ttl_s`` seconds."""
    if ttl_s <= 0:
        raise ValueError("a responder link needs a positive lifetime")
    start = now if now is not None else RealClock().now()
    token = make_responder_token(settings, incident_id, contact_id, start + timedelta(seconds=ttl_s))
    return f"{public_base_url(settings)}/r/{token}"
