"""One table of words: every rule, severity, kind, event, room and escalation step has a zh-CN and an
English label in ``anju.vocabulary``, and no other module keeps a copy of its own."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from anju import vocabulary
from anju.config import PROJECT_ROOT
from anju.console.i18n import translate
from anju.dispatch import messages
from anju.dispatch.policy import FALLBACK
from anju.dispatch.policy_file import parse_text
from anju.dispatch.recipients import AREA_GROUP, DUTY_OPERATORS, HOUSEHOLD_CONTACTS
from anju.domain import DeviceKind, EventName, Rule, Severity
from anju.engine.learn import LOCATIONS
from anju.health.monitor import CHECKS
from anju.notify.templates import AlertFacts, Lang, sms_text
from anju.runtime.demo import DEMO_USERS
from anju.vocabulary import Label

SRC = Path(vocabulary.__file__).resolve().parent
CJK = re.compile(r"[\u4e00-\u9fff]")
AT = datetime(2026, 11, 28, 23, 5, tzinfo=UTC)


def _escalation_steps() -> set[str]:
    data = tomllib.loads((PROJECT_ROOT / "rules" / "escalation.toml").read_text(encoding="utf-8"))
    names = {step["name"] for policy in data["policies"].values() for step in policy["steps"]}
    return names | {step.name for policy in FALLBACK.by_severity.values() for step in policy.steps}


VALUES: dict[str, tuple[Mapping[str, Label], set[str]]] = {
    "rule": (vocabulary.RULES, {r.value for r in Rule}),
    "severity": (vocabulary.SEVERITIES, {s.value for s in Severity}),
    "kind": (vocabulary.DEVICE_KINDS, {k.value for k in DeviceKind}),
    "event": (vocabulary.EVENTS, {e.value for e in EventName}),
    "location": (vocabulary.ROOMS, set(LOCATIONS)),
    "step": (vocabulary.STEPS, _escalation_steps()),
    # The monitor's checks, and the console's own when the service does not answer.
    "health.check": (vocabulary.CHECKS, {*CHECKS, "service"}),
}


@pytest.mark.parametrize("prefix", sorted(VALUES))
def test_every_value_has_a_chinese_and_an_english_label(prefix: str) -> None:
    table, values = VALUES[prefix]
    assert values, prefix
    missing = sorted(v for v in values if v not in table)
    assert missing == [], f"{prefix}: no label for {missing}"
    for value in values:
        label = table[value]
        assert label.zh.strip() and CJK.search(label.zh), f"{prefix}.{value} has no Chinese label"
        assert label.en.strip() and not CJK.search(label.en), f"{prefix}.{value} has no English label"


@pytest.mark.parametrize("prefix", sorted(VALUES))
def test_no_two_values_of_one_table_share_a_label(prefix: str) -> None:
    table = vocabulary.TABLES[prefix]
    for pick in (0, 1):
        words = [label[pick] for label in table.values()]
        assert len(words) == len(set(words)), f"{prefix}: {sorted(w for w in words if words.count(w) > 1)}"


def test_dispatch_notify_and_console_say_the_same_words() -> None:
    for rule in Rule:
        zh, en = vocabulary.RULES[rule]
        dispatch_zh = messages.alarm(
            messages.IncidentFacts(
                incident_id=1, household_name="王家", address="路1号", rule=rule, severity="high"
            ),
            "zh-CN",
        )
        facts = AlertFacts(
            household="王家", address="路1号", rule=rule, severity="high", at=AT, timezone="Asia/Shanghai"
        )
        assert (
            zh in dispatch_zh and zh in sms_text(facts, Lang.ZH) and translate("zh-CN", f"rule.{rule}") == zh
        )
        assert en in sms_text(facts, Lang.EN) and translate("en", f"rule.{rule}") == en
    for severity in Severity:
        zh, en = vocabulary.SEVERITIES[severity]
        assert (
            translate("zh-CN", f"severity.{severity}") == zh and translate("en", f"severity.{severity}") == en
        )


def test_an_unknown_value_shows_itself() -> None:
    assert vocabulary.rule_word("a_rule_added_later", "zh-CN") == "a_rule_added_later"
    assert vocabulary.word(vocabulary.STEPS, "page_the_mayor", "en") == "page_the_mayor"


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "vocabulary.py")


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_no_other_module_holds_a_copy_of_a_label() -> None:
    # Rooms are left out: the engine matches free-text locations against room words (卧室, 厨房…).
    labels = {
        label.zh: f"{prefix}.{value}"
        for prefix, table in vocabulary.TABLES.items()
        if prefix != "location"
        for value, label in table.items()
    }
    copies = [
        f"{path.relative_to(SRC)}: {text!r} ({labels[text]})"
        for path in _sources()
        for text in _string_constants(path)
        if text in labels
    ]
    assert copies == []


def test_no_other_module_holds_a_table_of_its_own() -> None:
    keys = {str(value) for table in vocabulary.TABLES.values() for value in table}
    prefixed = re.compile(r"""["'](?:""" + "|".join(vocabulary.TABLES) + r""")\.[a-z_]+["']\s*:""")
    enum_keyed = re.compile(r"""\b(?:Rule|Severity|DeviceKind|EventName)\.[A-Z_]+\s*:\s*\(?\s*["']""")
    bare = re.compile(
        r"""["'](""" + "|".join(sorted(keys)) + r""")["']\s*:\s*\(?\s*["'][^"'\n]*[\u4e00-\u9fff]"""
    )
    tables = [
        f"{path.relative_to(SRC)}: {m.group(0)!r}"
        for path in _sources()
        for pattern in (prefixed, enum_keyed, bare)
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert tables == []


def test_the_demo_and_the_escalation_file_name_posts_in_chinese_only_with_english_in_the_vocabulary() -> None:
    """No field holds two languages: 值班手机, not "值班手机 duty phone" (issue 15)."""
    policies = parse_text((PROJECT_ROOT / "rules" / "escalation.toml").read_text(encoding="utf-8"))
    oncall = policies.oncall
    names = [oncall.duty_name, oncall.supervisor_name, DUTY_OPERATORS, AREA_GROUP, HOUSEHOLD_CONTACTS]
    names += [display for _user, _role, display in DEMO_USERS]
    for name in names:
        assert CJK.search(name) and not re.search(r"[A-Za-z]", name), name
        assert vocabulary.title_word(name, "zh-CN") == name
        english = vocabulary.title_word(name, "en")
        assert english != name and not CJK.search(english), name
    assert vocabulary.title_word("刘晓东", "en") == "刘晓东"  # a person's name is theirs
    assert messages.unreachable(oncall.duty_name, "en") == (
        "[Anju] Cannot reach duty phone: no phone number on file; please act by hand."
    )
