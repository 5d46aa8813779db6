"""Rule packs: thresholds in TOML, validated once, merged with per-household overrides."""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The day parts every pack names; each starts at a local time and runs to the next one's start.
DAY_PARTS = ("night", "morning", "day", "evening")

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# Field kinds: bool, int, float, duration (seconds or "4h30m"), clock ("HH:MM"),
# parts (a duration, or a table of durations by day part).
_SCHEMA: dict[str, dict[str, str]] = {
    "day_parts": {part: "clock" for part in DAY_PARTS},
    "learning": {
        "enabled": "bool",
        "warmup_days": "int",
        "half_life_days": "float",
        "gap_quantile": "float",
        "gap_factor": "float",
        "gap_margin": "duration",
        "by_location": "bool",
        "location_support": "int",
    },
    "inactivity": {
        "enabled": "bool",
        "threshold": "parts",
        "min": "parts",
        "max": "parts",
        "rearm_events": "int",
        "judge_by": "choice:reached,longer",
        "alert_again_at_max": "bool",
    },
    "no_morning_activity": {
        "enabled": "bool",
        "wake": "clock",
        "margin": "duration",
        "earliest": "clock",
        "latest": "clock",
        "learned_only": "bool",
    },
    "night_door": {
        "enabled": "bool",
        "start": "clock",
        "end": "clock",
        "confirm": "duration",
        "usual_after": "int",
    },
    "away": {"confirm": "duration"},
    "not_returned": {
        "enabled": "bool",
        "threshold": "parts",
        "return_by": "clock",
        "min": "parts",
        "max": "parts",
        "factor": "float",
        "margin": "duration",
    },
    "door_left_open": {"enabled": "bool", "threshold": "duration"},
    "routine_anomaly": {
        "enabled": "bool",
        "restless_factor": "float",
        "restless_min_events": "int",
        "low_activity_ratio": "float",
    },
    "device_offline": {"enabled": "bool", "missed_intervals": "int"},
    "low_battery": {"enabled": "bool", "threshold": "int"},
    "tamper": {"enabled": "bool"},
}


#: Settings a pack may leave out (older packs); ``compile_pack`` gives them their defaults.
OPTIONAL: dict[str, frozenset[str]] = {
    "away": frozenset({"confirm"}),
    "inactivity": frozenset({"rearm_events", "judge_by", "alert_again_at_max"}),
    "learning": frozenset({"by_location", "location_support"}),
    "night_door": frozenset({"usual_after"}),
    "no_morning_activity": frozenset({"learned_only"}),
    "not_returned": frozenset({"min", "max", "factor", "margin"}),
}


def parse_duration(value: object, where: str) -> int:
    """Seconds from an integer or a text like ``"4h"``, ``"1h30m"``, ``"90s"``."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: a duration must be seconds or text like '4h', not a boolean")
    if isinstance(value, int | float):
        seconds = int(value)
    elif isinstance(value, str) and value.strip() and (m := _DURATION.match(value)):
        d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    else:
        raise ValueError(f"{where}: {value!r} is not a duration (seconds, or text like '4h', '30m')")
    if seconds < 0 or seconds > 7 * 86400:
        raise ValueError(f"{where}: {value!r} must lie between 0 and 7 days")
    return seconds


def parse_clock(value: object, where: str) -> int:
    """Minutes after local midnight from ``"HH:MM"``."""
    if not isinstance(value, str) or not (m := _CLOCK.match(value.strip())):
        raise ValueError(f"{where}: {value!r} is not a local time 'HH:MM'")
    return int(m.group(1)) * 60 + int(m.group(2))


def _check(kind: str, value: object, where: str) -> object:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected a whole number, got {value!r}")
        if value < 0:
            raise ValueError(f"{where}: must not be negative")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        if value < 0:
            raise ValueError(f"{where}: must not be negative")
        return float(value)
    if kind == "duration":
        parse_duration(value, where)
        return value
    if kind.startswith("choice:"):
        choices = kind.removeprefix("choice:").split(",")
        if value not in choices:
            raise ValueError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    if kind == "clock":
        parse_clock(value, where)
        return value
    if kind == "parts":
        if isinstance(value, Mapping):
            for part, v in value.items():
                if part not in DAY_PARTS:
                    raise ValueError(f"{where}: unknown day part {part!r} (known: {', '.join(DAY_PARTS)})")
                parse_duration(v, f"{where}.{part}")
            return dict(value)
        parse_duration(value, where)
        return value
    raise AssertionError(kind)


def _validate_tree(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, body in raw.items():
        if section == "name":
            if not isinstance(body, str):
                raise ValueError("name: expected text")
            out[section] = body
            continue
        fields = _SCHEMA.get(section)
        if fields is None:
            raise ValueError(f"unknown section {section!r} (known: {', '.join(sorted(_SCHEMA))})")
        if not isinstance(body, Mapping):
            raise ValueError(f"{section}: expected a table of settings, got {body!r}")
        checked: dict[str, Any] = {}
        for key, value in body.items():
            kind = fields.get(key)
            if kind is None:
                raise ValueError(f"{section}.{key}: unknown setting (known: {', '.join(sorted(fields))})")
            checked[key] = _check(kind, value, f"{section}.{key}")
        if not partial:
            optional = OPTIONAL.get(section, frozenset())
            missing = [k for k in fields if k not in checked and k not in optional]
            if missing:
                raise ValueError(f"{section}: missing {', '.join(missing)}")
        out[section] = checked
    if not partial:
        missing_sections = [s for s in _SCHEMA if s not in out and s != "away"]
        if missing_sections:
            raise ValueError(f"missing sections: {', '.join(missing_sections)}")
    return out


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` laid over ``base``, section by section (a day-part table merges by part)."""
    out = copy.deepcopy(dict(base))
    for section, body in overrides.items():
        if not isinstance(body, Mapping):
            out[section] = body
            continue
        target = out.setdefault(section, {})
        for key, value in body.items():
            if isinstance(value, Mapping) and isinstance(target.get(key), Mapping):
                target[key] = {**target[key], **value}
            else:
                target[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True, slots=True)
class RulePack:
    """A validated rule pack; ``section(name)`` reads settings, ``with_overrides`` merges a home's."""

    name: str
    raw: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.raw.get(name, {})
        return body

    def with_overrides(self, overrides: Mapping[str, Any]) -> RulePack:
        """This pack with a household's overrides merged over it (validated)."""
        if not overrides:
            return self
        checked = validate_overrides(dict(overrides))
        return RulePack(self.name, _validate_tree(merge(self.raw, checked), partial=False))


def parse_pack(raw: Mapping[str, Any], *, name: str = "pack") -> RulePack:
    """A pack from a parsed TOML tree; raises ValueError naming the offending setting."""
    tree = _validate_tree(raw, partial=False)
    return RulePack(str(tree.get("name", name)), tree)


def load_pack(path: str | Path) -> RulePack:
    """Read and validate a rule pack file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{p}: not valid TOML: {err}") from err
    try:
        return parse_pack(raw, name=p.stem)
    except ValueError as err:
        raise ValueError(f"{p}: {err}") from err


def default_pack_path() -> Path:
    """``rules/default.toml`` of the project (``ANJU_PROJECT_ROOT`` for an installed copy)."""
    root = os.environ.get("ANJU_PROJECT_ROOT") or Path(__file__).resolve().parents[3]
    return Path(root) / "rules" / "default.toml"


def validate_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """Check a household's ``rule_overrides`` (same sections as a pack, any subset of settings).

    Returns the checked overrides; raises ValueError with a reason an operator can read, e.g.
    ``inactivity.threshold.night: '10x' is not a duration``.
    """
    if not isinstance(overrides, Mapping):
        raise ValueError('rule overrides must be a JSON object of sections, e.g. {"inactivity": {...}}')
    if "name" in overrides:
        raise ValueError("name: a household cannot rename the pack")
    return _validate_tree(overrides, partial=True)
