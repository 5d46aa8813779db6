"""Device profiles as the API sees them: check a requested profile and find its heartbeat."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from fastapi import HTTPException, status

from anju.config import Settings
from anju.domain import DeviceKind, Protocol

#: The profile a device gets when none is named, per protocol.
DEFAULT_PREFIX = {Protocol.ANJU_V1: "anju", Protocol.ZIGBEE2MQTT: "aqara"}


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    name: str
    heartbeat_s: int | None


def default_profile_name(protocol: Protocol, kind: DeviceKind) -> str:
    return f"{DEFAULT_PREFIX[protocol]}-{kind.value}"


def resolve_profile(
    settings: Settings, *, protocol: Protocol, kind: DeviceKind, name: str | None
) -> ResolvedProfile:
    """The named (or default) profile; 422 when sensors/ has no such profile for this device."""
    chosen = name or default_profile_name(protocol, kind)
    try:
        # The loader belongs to the ingestor; until it exists any name is accepted as given.
        profiles_module = importlib.import_module("anju.ingest.profiles")
    except ModuleNotFoundError:
        return ResolvedProfile(chosen, None)
    load = getattr(profiles_module, "load_profiles", None)
    if load is None:
        return ResolvedProfile(chosen, None)
    profiles = load(settings.sensors_dir)
    profile = profiles.get(chosen)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"profile: no profile {chosen!r} in sensors/ (known: {known})",
        )
    profile_protocol = str(getattr(profile, "protocol", protocol.value))
    profile_kind = str(getattr(profile, "kind", kind.value))
    if profile_protocol != protocol.value or profile_kind != kind.value:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"profile: {chosen!r} describes a {profile_protocol} {profile_kind} device, "
            f"not a {protocol.value} {kind.value}",
        )
    heartbeat = getattr(profile, "heartbeat_s", None)
    return ResolvedProfile(chosen, int(heartbeat) if heartbeat is not None else None)
