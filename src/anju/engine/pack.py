"""Rule packs: thresholds in TOML, validated once, merged with per-household overrides."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anju.engine import params as _core
from anju.engine.fields import DAY_PARTS, Schema, check, parse_clock, parse_duration
from anju.engine.rules import RULES

#: Every section a pack may hold: the core's, then each rule's (in the order packs list them).
_ORDER = (
    "day_parts",
    "learning",
    "inactivity",
    "no_morning_activity",
    "night_door",
    "away",
    "not_returned",
    "door_left_open",
    "routine_anomaly",
    "device_offline",
    "low_battery",
    "tamper",
    "checkin",
)
_ALL: dict[str, Schema] = {**_core.SECTIONS}
#: Settings a pack may leave out (older packs); the rules give them their defaults.
OPTIONAL: dict[str, frozenset[str]] = {**_core.OPTIONAL}
for _rule in RULES:
    _ALL.update(_rule.sections)
    OPTIONAL.update(_rule.optional)
_SCHEMA: dict[str, Schema] = dict(
    sorted(_ALL.items(), key=lambda kv: _ORDER.index(kv[0]) if kv[0] in _ORDER else 99)
)
#: Sections a pack may leave out as a whole: those whose every setting may be omitted (a new rule
#: whose settings all have defaults needs no section in packs written before it).
_OPTIONAL_SECTIONS = frozenset(
    s for s, f in _SCHEMA.items() if f and set(f) <= OPTIONAL.get(s, frozenset())
) | {"away", "checkin"}

__all__ = ["DAY_PARTS", "OPTIONAL", "RulePack", "load_pack", "parse_clock", "parse_duration", "parse_pack"]


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
            checked[key] = check(kind, value, f"{section}.{key}")
        if not partial:
            optional = OPTIONAL.get(section, frozenset())
            missing = [k for k in fields if k not in checked and k not in optional]
            if missing:
                raise ValueError(f"{section}: missing {', '.join(missing)}")
        out[section] = checked
    if not partial:
        missing_sections = [s for s in _SCHEMA if s not in out and s not in _OPTIONAL_SECTIONS]
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
    base = raw.pop("extends", None)
    if base is not None:
        # A pack may be another pack (a file beside it) with some settings changed.
        if not isinstance(base, str) or Path(base).name != base or base == p.name:
            raise ValueError(f"{p}: extends: expected the file name of another pack beside it, got {base!r}")
        raw = merge(load_pack(p.parent / base).raw, {k: v for k, v in raw.items() if k != "name"}) | {
            "name": raw.get("name", p.stem)
        }
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
