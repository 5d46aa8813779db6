"""Device profiles as the API sees them: check a requested profile, find its heartbeat and battery floor."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, status

from anju.config import Settings
from anju.domain import DeviceKind, Protocol
from anju.errors import ProfileError
from anju.ingest.profiles import Profile, load_profiles

#: The profile a device gets when none is named, per protocol (``anju-pir``, ``aqara-door``, ...).
DEFAULT_PREFIX = {Protocol.ANJU_V1: "anju", Protocol.ZIGBEE2MQTT: "aqara"}


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    name: str
    heartbeat_s: int | None


def default_profile_name(protocol: Protocol, kind: DeviceKind) -> str:
    return f"{DEFAULT_PREFIX[protocol]}-{kind.value}"


def profiles(settings: Settings) -> dict[str, Profile]:
    """The profiles in ``sensors/``, read afresh so an installer's new file counts at once."""
    try:
        return load_profiles(settings.sensors_dir)
    except ProfileError as err:
        # The server's own files are broken: not the caller's fault, and not to be hidden.
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR, f"device profiles cannot be loaded: {err}"
        ) from err


def resolve_profile(
    settings: Settings, *, protocol: Protocol, kind: DeviceKind, name: str | None
) -> ResolvedProfile:
    """The named (or default) profile; 422 when sensors/ has no such profile for this device."""
    chosen = name or default_profile_name(protocol, kind)
    known = profiles(settings)
    profile = known.get(chosen)
    if profile is None:
        fitting = sorted(p.name for p in known.values() if p.protocol is protocol and p.kind is kind)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"profile: no profile {chosen!r} in sensors/; for a {protocol.value} {kind.value} "
            f"use one of: {', '.join(fitting) or 'none'}",
        )
    if profile.protocol is not protocol or profile.kind is not kind:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"profile: {chosen!r} describes a {profile.protocol.value} {profile.kind.value} device, "
            f"not a {protocol.value} {kind.value}",
        )
    return ResolvedProfile(profile.name, profile.heartbeat_s)


def battery_thresholds(settings: Settings) -> dict[str, int]:
    """Profile name -> the battery percent under which that device counts as low."""
    return {name: p.battery_low for name, p in profiles(settings).items()}
