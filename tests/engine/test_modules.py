"""The engine's shape: each rule a module owning its pack sections and state, the core reading no file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from anju.engine import params
from anju.engine.core import Engine
from anju.engine.pack import default_pack_path
from anju.engine.rules import RULES

ENGINE = Path(__file__).resolve().parents[2] / "src" / "anju" / "engine"


def test_every_section_of_the_default_pack_is_owned_by_the_core_or_by_exactly_one_rule() -> None:
    owners = [*params.SECTIONS, *(section for rule in RULES for section in rule.sections)]
    assert len(owners) == len(set(owners))
    with default_pack_path().open("rb") as fh:
        sections = {k for k, v in tomllib.load(fh).items() if isinstance(v, dict)}
    assert sections <= set(owners)


def test_no_two_rules_share_a_state_field() -> None:
    fields = [name for rule in RULES for name in rule.fields()]
    assert len(fields) == len(set(fields))


def test_the_engine_takes_its_pack_and_reads_no_file() -> None:
    with pytest.raises(TypeError):
        Engine()  # type: ignore[call-arg]
    for module in ENGINE.rglob("*.py"):
        if module.name == "pack.py":
            continue  # the loaders callers use to read a pack before they make an engine
        text = module.read_text(encoding="utf-8")
        assert "open(" not in text and "os.environ" not in text and "load_pack" not in text, module


def test_no_engine_module_is_longer_than_400_lines() -> None:
    lengths = {m.name: len(m.read_text(encoding="utf-8").splitlines()) for m in ENGINE.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > 400} == {}
