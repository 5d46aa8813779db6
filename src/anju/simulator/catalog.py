"""The simulator's editable data: personas, fleet mixes, layouts, scenarios (simulator/*.toml) and
the device profiles it needs from sensors/*.toml (read here with tomllib, not through ingest)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from anju.config import PROJECT_ROOT
from anju.errors import ConfigError

SIMULATOR_DIR = PROJECT_ROOT / "simulator"
SENSORS_DIR = PROJECT_ROOT / "sensors"

#: Aqara sensors send a status report about this often, whatever the profile expects.
AQARA_CHECK_IN_S = 3000

EMERGENCY_KINDS = ("fall", "button", "wander", "not_returned", "door_left_open", "device_dead", "tamper")


@dataclass(frozen=True, slots=True, kw_only=True)
class Persona:
    """How one resident lives: the knobs of personas.toml."""

    name: str
    label: str = ""
    wake: float = 7.0
    wake_sd_min: float = 30.0
    bedtime: float = 22.0
    bedtime_sd_min: float = 30.0
    weekend_shift_min: float = 20.0
    nap_prob: float = 0.5
    nap_min: tuple[float, float] = (30.0, 90.0)
    night_bathroom: float = 1.2
    day_bathroom_every_h: float = 2.5
    outings: float = 1.0
    outings_weekend: float = 0.8
    outing_min: tuple[float, float] = (40.0, 150.0)
    step_outs: float = 1.5
    visitors: float = 0.2
    visitors_weekend: float = 0.4
    visit_min: tuple[float, float] = (30.0, 120.0)
    activity: float = 1.0
    #: Check-in calls (issue 13): how often a well resident answers (at home, away, at night), how
    #: long they take, and whether one who has fallen presses 9 (else a fallen resident never answers).
    answer_rate: float = 0.85
    answer_rate_away: float = 0.6
    answer_rate_night: float = 0.7
    answer_delay_s: tuple[float, float] = (30.0, 180.0)
    fallen_answers_help: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    name: str
    rooms: tuple[str, ...]
    bed: str
    button: str
    entry: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Mix:
    name: str
    timezone: str
    personas: dict[str, float]
    layouts: dict[str, float]
    zigbee2mqtt: float = 0.25
    kit_epoch_ms: float = 0.3


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    loss: float = 0.002
    duplicate: float = 0.005
    reorder: float = 0.003
    drift_ppm_max: float = 50.0
    clock_jump: float = 0.001
    reconnect: float = 0.01
    outage_min: tuple[float, float] = (3.0, 40.0)
    reboot: float = 0.002
    malformed: float = 0.0005
    battery_start: tuple[float, float] = (35.0, 100.0)
    battery_drain_per_day: tuple[float, float] = (0.05, 0.6)


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    fall_found_h: tuple[float, float] = (3.0, 14.0)
    wander_found_h: tuple[float, float] = (1.0, 5.0)
    not_returned_h: tuple[float, float] = (8.0, 20.0)
    door_open_min: tuple[float, float] = (20.0, 120.0)
    hospital_days: tuple[float, float] = (1.0, 4.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """Emergency rates (per household-day), device faults and how incidents end."""

    name: str
    emergencies: dict[str, float] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    found: Found = field(default_factory=Found)

    def scaled(self, multiplier: float) -> Scenario:
        """The same scenario with every emergency rate multiplied."""
        rates = {k: v * multiplier for k, v in self.emergencies.items()}
        return Scenario(name=self.name, emergencies=rates, faults=self.faults, found=self.found)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """What the simulator needs of a device profile: its name, heartbeat and battery threshold."""

    name: str
    protocol: str
    kind: str
    heartbeat_s: int | None
    battery_low: int = 20
    fw: str = "1.4.2"

    @property
    def report_s(self) -> int:
        """How often the device really reports when nothing happens (Aqara: ~50 min check-ins)."""
        return self.heartbeat_s or AQARA_CHECK_IN_S


#: Used when sensors/ has no profile for a (protocol, kind). Zigbee2MQTT profiles name no heartbeat
#: (availability tells liveness), but Aqara devices still check in about every 50 minutes.
DEFAULT_PROFILES: dict[tuple[str, str], Profile] = {
    ("anju-v1", "pir"): Profile(name="anju-pir", protocol="anju-v1", kind="pir", heartbeat_s=3600),
    ("anju-v1", "door"): Profile(name="anju-door", protocol="anju-v1", kind="door", heartbeat_s=3600),
    ("anju-v1", "button"): Profile(name="anju-button", protocol="anju-v1", kind="button", heartbeat_s=3600),
    ("zigbee2mqtt", "pir"): Profile(
        name="aqara-pir", protocol="zigbee2mqtt", kind="pir", heartbeat_s=None, fw=""
    ),
    ("zigbee2mqtt", "door"): Profile(
        name="aqara-door", protocol="zigbee2mqtt", kind="door", heartbeat_s=None, fw=""
    ),
    ("zigbee2mqtt", "button"): Profile(
        name="aqara-button", protocol="zigbee2mqtt", kind="button", heartbeat_s=None, fw=""
    ),
}


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err


def _build(cls: type[Any], name: str, raw: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    if "name" in known:
        values["name"] = name
    try:
        return cls(**values)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from err


def load_personas(directory: Path = SIMULATOR_DIR) -> dict[str, Persona]:
    raw = _read(directory / "personas.toml").get("personas", {})
    return {n: _build(Persona, n, v, f"personas.{n}") for n, v in raw.items()}


def load_layouts(directory: Path = SIMULATOR_DIR) -> dict[str, Layout]:
    raw = _read(directory / "fleet.toml").get("layouts", {})
    out: dict[str, Layout] = {}
    for n, v in raw.items():
        layout: Layout = _build(Layout, n, v, f"layouts.{n}")
        for room in (layout.bed, layout.button, layout.entry):
            if room not in layout.rooms:
                raise ConfigError(f"layouts.{n}: {room!r} is not one of its rooms")
        out[n] = layout
    return out


def load_mix(name: str = "default", directory: Path = SIMULATOR_DIR) -> Mix:
    raw = _read(directory / "fleet.toml").get("mixes", {})
    if name not in raw:
        raise ConfigError(f"no fleet mix {name!r} in {directory / 'fleet.toml'} (have {sorted(raw)})")
    mix: Mix = _build(Mix, name, raw[name], f"mixes.{name}")
    return mix


def load_scenario(name: str = "default", directory: Path = SIMULATOR_DIR) -> Scenario:
    """A scenario; missing sections and keys fall back to [scenarios.default]."""
    raw = _read(directory / "scenarios.toml").get("scenarios", {})
    if name not in raw:
        raise ConfigError(f"no scenario {name!r} in {directory / 'scenarios.toml'} (have {sorted(raw)})")
    base = raw.get("default", {})
    chosen = raw[name]
    merged: dict[str, dict[str, Any]] = {}
    for section in ("emergencies", "faults", "found"):
        merged[section] = {**base.get(section, {}), **chosen.get(section, {})}
    unknown = set(merged["emergencies"]) - set(EMERGENCY_KINDS)
    if unknown:
        raise ConfigError(f"scenarios.{name}.emergencies: unknown kinds {sorted(unknown)}")
    rates = {k: float(merged["emergencies"].get(k, 0.0)) for k in EMERGENCY_KINDS}
    return Scenario(
        name=name,
        emergencies=rates,
        faults=_build(Faults, name, merged["faults"], f"scenarios.{name}.faults"),
        found=_build(Found, name, merged["found"], f"scenarios.{name}.found"),
    )


def _profile_from(raw: dict[str, Any], fallback_name: str) -> Profile | None:
    protocol = raw.get("protocol")
    kind = raw.get("type", raw.get("kind"))
    if not isinstance(protocol, str) or not isinstance(kind, str):
        return None
    heartbeat = raw.get("heartbeat_s")
    if heartbeat is None and isinstance(raw.get("heartbeat"), dict):
        heartbeat = raw["heartbeat"].get("interval_s", raw["heartbeat"].get("heartbeat_s"))
    battery = raw.get("battery_low", raw.get("battery_low_pct"))
    if battery is None and isinstance(raw.get("battery"), dict):
        battery = raw["battery"].get("low", raw["battery"].get("threshold"))
    default = DEFAULT_PROFILES.get((protocol, kind))
    return Profile(
        name=str(raw.get("name", fallback_name)),
        protocol=protocol,
        kind=kind,
        heartbeat_s=int(heartbeat) if heartbeat else None,
        battery_low=int(battery) if battery is not None else (default.battery_low if default else 20),
        fw=default.fw if default else "",
    )


def load_profiles(directory: Path = SENSORS_DIR) -> dict[tuple[str, str], Profile]:
    """Device profiles by (protocol, kind): those in sensors/*.toml, else the defaults above."""
    found: dict[tuple[str, str], Profile] = {}
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        raw = _read(path)
        candidates = [raw, *(v for v in raw.values() if isinstance(v, dict))]
        for table in candidates:
            profile = _profile_from(table, path.stem)
            if profile is not None and (profile.protocol, profile.kind) not in found:
                found[(profile.protocol, profile.kind)] = profile
    return {**DEFAULT_PROFILES, **found}
