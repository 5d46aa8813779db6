"""Converters of the real recordings in ../shared/datasets into Anju observations (the data stays there).

Mapping: the front-door contact becomes a ``door`` (open/close); every other sensor a person
triggers (area and spot motion, bed and seat mats, cupboard and fridge contacts, flushes) is a sign
of life and becomes ``pir`` motion, at the start and at the end of its interval. Lights are left
out: they may be switched by timers. No recording has heartbeats, so no device is ever offline.

Each device gets the room it is in, as a location in English (``RealHome.locations``), from the
recording's own room column (CASAS AL, Ordonez) or its sensor names (CIL, van Kasteren; Dutch
names translated below, from each dataset's SOURCE.md and README).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from anju.domain import DeviceKind, EventName
from anju.engine.model import Observation

DATASETS = Path(os.environ.get("ANJU_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))


@dataclass(frozen=True)
class RealHome:
    name: str
    timezone: str
    observations: list[Observation]
    #: device id -> the room it is in ("" unknown)
    locations: dict[str, str] = field(default_factory=dict)


#: Sensor-name words (English and Dutch) -> room, in order; first match wins.
_ROOMS: tuple[tuple[str, str], ...] = (
    ("frontdoor", "entrance"),
    ("voordeur", "entrance"),
    ("maindoor", "entrance"),
    ("entry", "entrance"),
    ("sleutels", "entrance"),  # the key drawer by the front door
    ("hallway", "hallway"),
    ("bathroom", "bathroom"),
    ("badkamer", "bathroom"),
    ("badkuip", "bathroom"),  # bathtub
    ("wasbak", "bathroom"),  # wash basin
    ("toilet", "bathroom"),
    ("bedroom", "bedroom"),
    ("slaapkamer", "bedroom"),
    ("bed", "bedroom"),
    ("dresser", "bedroom"),
    ("kitchen", "kitchen"),
    ("keuken", "kitchen"),
    ("koelkast", "kitchen"),  # fridge
    ("vriezer", "kitchen"),  # freezer
    ("magnetron", "kitchen"),  # microwave
    ("bestek", "kitchen"),  # cutlery
    ("kastje", "kitchen"),  # cupboard
    ("gootsteen", "kitchen"),  # sink
    ("fridge", "kitchen"),
    ("cupboard", "kitchen"),
    ("cutlary", "kitchen"),
    ("stove", "kitchen"),
    ("toaster", "kitchen"),
    ("livingroom", "living_room"),
    ("living", "living_room"),
    ("huiskamer", "living_room"),
    ("bank", "living_room"),  # couch
    ("lounge", "living_room"),
    ("diningroom", "dining_room"),
    ("office", "office"),
    ("workarea", "office"),
    ("bureaustoel", "office"),  # desk chair
    ("serverhoekje", "office"),
    ("balkon", "balcony"),
)


def room_of(name: str) -> str:
    """The room a sensor is in, from its name ("" when the name says nothing)."""
    text = re.sub(r"[^a-z]", "", name.lower())
    for word, room in _ROOMS:
        if word in text:
            return room
    return ""


def _obs(hid: str, dev: str, kind: DeviceKind, event: EventName, at: datetime) -> Observation:
    return Observation(household_id=hid, device_id=dev, kind=kind, event=event, at=at)


def _casas(
    path: Path, hid: str, tz: ZoneInfo, door_names: set[str], locations: dict[str, str]
) -> list[Observation]:
    out: list[Observation] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        at = datetime.fromisoformat(f"{parts[0]} {parts[1]}").replace(tzinfo=tz)
        # AL: date time area sensor value label; CIL: date time sensor value.
        area, sensor, value = (
            (parts[2], parts[3], parts[4])
            if len(parts) >= 5 and parts[4] in {"ON", "OFF", "OPEN", "CLOSE"}
            else ("", parts[2], parts[3])
        )
        if "Light" in sensor:
            continue
        if sensor in door_names:
            if value in {"OPEN", "CLOSE"}:
                event = EventName.OPEN if value == "OPEN" else EventName.CLOSE
                out.append(_obs(hid, f"door-{sensor}", DeviceKind.DOOR, event, at))
                locations[f"door-{sensor}"] = "entrance"
        elif value == "ON":
            out.append(_obs(hid, f"pir-{sensor}", DeviceKind.PIR, EventName.MOTION, at))
            # AL names the area ("OutsideDoor" is the entry inside the front door); CIL the sensor.
            locations[f"pir-{sensor}"] = room_of("entry" if area == "OutsideDoor" else area or sensor)
    return out


def _intervals(
    rows: Iterator[tuple[str, str, str]],
    hid: str,
    tz: ZoneInfo,
    is_door: re.Pattern[str],
    locations: dict[str, str],
) -> list[Observation]:
    out: list[Observation] = []
    for start_s, end_s, label in rows:
        try:
            start = datetime.fromisoformat(start_s.strip()).replace(tzinfo=tz)
            end = datetime.fromisoformat(end_s.strip()).replace(tzinfo=tz)
        except ValueError:
            continue
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label.strip()).strip("-")[:40] or "sensor"
        # Ordonez: "Basin PIR Bathroom" (the room last); van Kasteren: what the sensor is on.
        words = label.split()
        room = room_of(words[-1]) if len(words) >= 3 else ""
        room = room or room_of(label)
        if is_door.search(label):
            locations[f"door-{slug}"] = "entrance"
            out.append(_obs(hid, f"door-{slug}", DeviceKind.DOOR, EventName.OPEN, start))
            out.append(_obs(hid, f"door-{slug}", DeviceKind.DOOR, EventName.CLOSE, end))
        else:
            locations[f"pir-{slug}"] = room
            out.append(_obs(hid, f"pir-{slug}", DeviceKind.PIR, EventName.MOTION, start))
            if end > start:
                out.append(_obs(hid, f"pir-{slug}", DeviceKind.PIR, EventName.MOTION, end))
    return out


def _vankasteren(house: str) -> RealHome:
    tz = ZoneInfo("Europe/Amsterdam")
    path = DATASETS / "vankasteren_2010_houses_ABC" / "derived_csv" / f"house{house}_sensor_events.csv"
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        rows = ((r[0], r[1], r[3]) for r in reader if len(r) >= 4)
        locations: dict[str, str] = {}
        obs = _intervals(rows, f"vk-{house}", tz, re.compile(r"frontdoor|voordeur", re.I), locations)
    return RealHome(f"van Kasteren {house}", tz.key, obs, locations)


def _ordonez(user: str) -> RealHome:
    tz = ZoneInfo("Europe/Madrid")
    path = DATASETS / "ordonez_uci_adl_binary" / f"Ordonez{user}_Sensors.txt"
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[2:]:
        cols = [c for c in re.split(r"\t+", line.strip()) if c.strip()]
        if len(cols) >= 4:
            rows.append((cols[0], cols[1], " ".join(cols[2:])))
    locations: dict[str, str] = {}
    obs = _intervals(iter(rows), f"ordonez-{user}", tz, re.compile(r"Maindoor", re.I), locations)
    return RealHome(f"Ordonez {user}", tz.key, obs, locations)


def load_homes() -> list[RealHome]:
    """The six homes of the benchmark, each sorted by time."""
    pacific = ZoneInfo("America/Los_Angeles")  # CASAS homes are in Pullman, Washington
    al: dict[str, str] = {}
    cil: dict[str, str] = {}
    homes = [
        RealHome(
            "CASAS AL",
            pacific.key,
            _casas(DATASETS / "casas_al_smarthome_sample" / "data", "casas-al", pacific, {"FrontDoor"}, al),
            al,
        ),
        RealHome(
            "CIL tm000",
            pacific.key,
            _casas(
                DATASETS / "casas_cil_tm000" / "tm000.multiday_absence.txt", "cil-tm000", pacific, set(), cil
            ),
            cil,
        ),
        _vankasteren("B"),
        _vankasteren("C"),
        _ordonez("A"),
        _ordonez("B"),
    ]
    for home in homes:
        home.observations.sort(key=lambda o: o.at)
    return homes


def write_event_file(home: RealHome, path: Path) -> None:
    """The contract's event file for one home (for ``anju replay``)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "household_id", "device_id", "type", "event", "battery"])
        for o in home.observations:
            w.writerow(
                [
                    o.at.isoformat(timespec="milliseconds"),
                    o.household_id,
                    o.device_id,
                    o.kind.value,
                    o.event.value,
                    "",
                ]
            )
