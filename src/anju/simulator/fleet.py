"""A simulated fleet: households with a resident, a layout of rooms and their devices."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anju.errors import ConfigError
from anju.simulator.catalog import (
    Layout,
    Mix,
    Persona,
    Profile,
    load_layouts,
    load_mix,
    load_personas,
    load_profiles,
)
from anju.simulator.people import people_for

KIT = "anju-v1"
ZIGBEE = "zigbee2mqtt"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimDevice:
    """One device as it is registered: the contract's fields plus the profile it follows."""

    id: str
    type: str  # door | pir | button
    location: str
    protocol: str
    profile: str
    external_name: str | None
    heartbeat_s: int | None
    #: How often it really sends a heartbeat or status report.
    report_s: int
    battery_low: int
    fw: str = ""
    #: Kit firmware that sends ``ts`` as epoch milliseconds rather than RFC 3339.
    epoch_ms: bool = False

    @property
    def topic(self) -> str:
        """Where its events go (Zigbee2MQTT state, or the kit event topic)."""
        if self.protocol == ZIGBEE:
            return f"zigbee2mqtt/{self.external_name}"
        return f"anju/v1/{self.id}/event"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimHousehold:
    id: str
    index: int
    name: str
    timezone: str
    persona: Persona
    layout: Layout
    protocol: str
    devices: tuple[SimDevice, ...]
    #: Device index by (type, location), for the routine's lookups.
    slots: dict[tuple[str, str], int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.slots.update({(d.type, d.location): i for i, d in enumerate(self.devices)})

    def pir(self, room: str) -> int:
        """Index of the PIR of ``room`` in ``devices``."""
        return self.slots[("pir", room)]

    @property
    def door(self) -> int:
        return self.slots[("door", "entrance")]

    @property
    def button(self) -> int:
        return self.slots[("button", self.layout.button)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fleet:
    seed: int
    mix: str
    households: tuple[SimHousehold, ...]
    id_prefix: str = ""
    profiles: dict[tuple[str, str], Profile] = field(default_factory=dict)

    @property
    def devices(self) -> list[SimDevice]:
        return [d for h in self.households for d in h.devices]

    def to_json(self) -> dict[str, Any]:
        """The fleet file: households, devices, personas and time zones."""
        personas = {h.persona.name: asdict(h.persona) for h in self.households}
        return {
            "seed": self.seed,
            "mix": self.mix,
            "id_prefix": self.id_prefix,
            "personas": personas,
            "households": [
                {
                    "id": h.id,
                    "name": h.name,
                    "timezone": h.timezone,
                    "persona": h.persona.name,
                    "layout": h.layout.name,
                    "rooms": list(h.layout.rooms),
                    "protocol": h.protocol,
                    "devices": [
                        {
                            "id": d.id,
                            "type": d.type,
                            "location": d.location,
                            "protocol": d.protocol,
                            "profile": d.profile,
                            "external_name": d.external_name,
                            "heartbeat_s": d.heartbeat_s,
                        }
                        for d in h.devices
                    ],
                }
                for h in self.households
            ],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    names = sorted(weights)
    return rng.choices(names, weights=[weights[n] for n in names], k=1)[0]


_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)


def build_fleet(
    households: int,
    seed: int,
    mix: str | Mix = "default",
    *,
    id_prefix: str = "",
    simulator_dir: Path | None = None,
    sensors_dir: Path | None = None,
    timezone: str | None = None,
) -> Fleet:
    """The same ``seed`` always gives the same fleet; ``timezone`` overrides the mix's."""
    if households < 0:
        raise ConfigError("households must be zero or more")
    kw = {} if simulator_dir is None else {"directory": simulator_dir}
    the_mix = mix if isinstance(mix, Mix) else load_mix(mix, **kw)
    personas = load_personas(**kw)
    layouts = load_layouts(**kw)
    profiles = load_profiles(sensors_dir) if sensors_dir is not None else load_profiles()
    for name in the_mix.personas:
        if name not in personas:
            raise ConfigError(f"mix {the_mix.name!r} names persona {name!r}, which personas.toml lacks")
    for name in the_mix.layouts:
        if name not in layouts:
            raise ConfigError(f"mix {the_mix.name!r} names layout {name!r}, which fleet.toml lacks")
    zone = timezone or the_mix.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"unknown time zone {zone!r}") from err
    rng = random.Random(f"fleet:{seed}")
    homes = []
    for i in range(households):
        hid = f"{id_prefix}h{i + 1:05d}"
        persona = personas[_weighted(rng, the_mix.personas)]
        layout = layouts[_weighted(rng, the_mix.layouts)]
        protocol = ZIGBEE if rng.random() < the_mix.zigbee2mqtt else KIT
        epoch_ms = rng.random() < the_mix.kit_epoch_ms
        devices = []
        placements = [("door", "entrance"), ("button", layout.button)] + [("pir", r) for r in layout.rooms]
        for kind, location in placements:
            profile = profiles[(protocol, kind)]
            short = {"door": "door", "button": "btn", "pir": "pir"}[kind]
            did = f"{hid}-{short}" if kind != "pir" else f"{hid}-pir-{location.replace('_', '-')}"
            devices.append(
                SimDevice(
                    id=did,
                    type=kind,
                    location=location,
                    protocol=protocol,
                    profile=profile.name,
                    external_name=f"z2m-{did}" if protocol == ZIGBEE else None,
                    heartbeat_s=profile.heartbeat_s,
                    report_s=profile.report_s,
                    battery_low=profile.battery_low,
                    fw=profile.fw,
                    epoch_ms=epoch_ms and protocol == KIT,
                )
            )
        # Drawn as before so that a seed still gives the same fleet; the name comes from its people.
        rng.randrange(len(_SURNAMES))
        homes.append(
            SimHousehold(
                id=hid,
                index=i,
                name=people_for(i, seed).name,
                timezone=zone,
                persona=persona,
                layout=layout,
                protocol=protocol,
                devices=tuple(devices),
            )
        )
    return Fleet(seed=seed, mix=the_mix.name, households=tuple(homes), id_prefix=id_prefix, profiles=profiles)
