"""Every word the console shows exists in Chinese and English; no interface text bypasses the catalog."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from anju.console.i18n import CATALOG, js_catalog, normalize, translate
from anju.domain import (
    Channel,
    DeviceKind,
    EventName,
    IncidentState,
    NotificationStatus,
    Outcome,
    Role,
    Rule,
    Severity,
)

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "anju" / "console"
TEMPLATES = sorted((CONSOLE / "templates").glob("*.html"))
SCRIPTS = sorted((CONSOLE / "static").glob("*.js"))
PYTHON = sorted(CONSOLE.glob("*.py"))


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_catalog_key_has_both_languages_with_the_same_placeholders() -> None:
    for key, (zh, en) in CATALOG.items():
        assert zh.strip(), f"{key} has no Chinese text"
        assert en.strip(), f"{key} has no English text"
        assert _placeholders(zh) == _placeholders(en), key


def test_every_domain_value_the_console_shows_has_a_label() -> None:
    vocab = {
        "severity": Severity,
        "state": IncidentState,
        "rule": Rule,
        "outcome": Outcome,
        "role": Role,
        "channel": Channel,
        "nstatus": NotificationStatus,
        "kind": DeviceKind,
        "event": EventName,
    }
    missing = [f"{p}.{v.value}" for p, enum in vocab.items() for v in enum if f"{p}.{v.value}" not in CATALOG]
    assert missing == []


def _literal_keys(pattern: str, files: list[Path]) -> set[str]:
    keys: set[str] = set()
    for path in files:
        keys |= set(re.findall(pattern, path.read_text(encoding="utf-8")))
    return keys


def test_every_key_used_in_templates_scripts_and_views_exists() -> None:
    used = _literal_keys(r"""\bt\(\s*['"]([a-z_]+\.[a-zA-Z0-9_.\-]+)['"]""", TEMPLATES + PYTHON)
    used |= _literal_keys(r"""\bT\(\s*['"]([a-z_]+\.[a-zA-Z0-9_.\-]+)['"]""", SCRIPTS)
    used |= _literal_keys(r"""title_key=['"]([a-z_]+\.[a-z_]+)['"]""", PYTHON)
    used |= _literal_keys(r"""["']((?:error|login)\.[a-z_]+)["']""", PYTHON)
    used = {k for k in used if not k.endswith(".html")}
    # A key ending in "_" or "." is a prefix completed at run time (``'reports.stage_' ~ name``).
    prefixes = {k for k in used if k.endswith(("_", "."))}
    assert len(used) > 150
    assert sorted(k for k in used - prefixes if k not in CATALOG) == []
    assert sorted(p for p in prefixes if not any(key.startswith(p) for key in CATALOG)) == []


def test_scripts_get_every_key_they_ask_for() -> None:
    used = _literal_keys(r"""\bT\(\s*['"]([a-z_]+\.[a-zA-Z0-9_.\-]+)['"]""", SCRIPTS)
    sent = js_catalog("en")
    assert sorted(k for k in used if k not in sent) == []


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_hold_no_untranslated_words(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    # CSS class names given through blocks are not shown.
    text = re.sub(r"\{% block \w+_class %\}.*?\{% endblock %\}", " ", text)
    for pattern in (r"\{#.*?#\}", r"\{%.*?%\}", r"\{\{.*?\}\}", r"<script.*?</script>", r"<style.*?</style>"):
        text = re.sub(pattern, " ", text, flags=re.S)
    text = re.sub(r"<kbd>.*?</kbd>", " ", text)  # key names are the same in every language
    text = re.sub(r"<[^>]+>", " ", text)
    words = re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", text)
    assert words == [], f"{path.name} shows text outside the catalog: {words}"


def test_language_choice_defaults_to_chinese_and_understands_variants() -> None:
    assert normalize("en-US") == "en"
    assert normalize("zh") == "zh-CN"
    assert normalize("fr") is None
    assert translate("en", "incident.title", id=7) == "Incident #7"
    assert translate("zh-CN", "incident.title", id=7) == "事件 #7"
    assert translate("en", "no.such.key") == "no.such.key"  # shown, logged, never a crash
