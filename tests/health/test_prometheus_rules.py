"""The Prometheus alert rules in deploy/prometheus/, checked and unit-tested by Debian's promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from anju.health import CHECKS
from anju.metrics import Metrics

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "anju-alerts.yml"
TESTS = RULES_DIR / "anju-alerts.test.yml"


def _promtool(*args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: scripts/test-setup installs Debian's prometheus package"
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _expressions() -> list[str]:
    return re.findall(r"^\s+expr: (.+)$", RULES.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_the_rules_file_is_valid_for_promtool() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_the_rule_unit_tests_pass_under_promtool() -> None:
    result = _promtool("test", "rules", str(TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_fails_the_unit_tests_when_a_rule_pages_too_late(tmp_path: Path) -> None:
    # The unit tests must bite: a service-down rule waiting 5 min instead of 1 fails them.
    slower = RULES.read_text(encoding="utf-8").replace(
        'expr: up{job="anju"} == 0\n        for: 1m', 'expr: up{job="anju"} == 0\n        for: 5m'
    )
    assert slower != RULES.read_text(encoding="utf-8")
    (tmp_path / RULES.name).write_text(slower, encoding="utf-8")
    shutil.copy(TESTS, tmp_path / TESTS.name)
    result = _promtool("test", "rules", TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "AnjuServiceDown" in result.stdout + result.stderr


def test_every_metric_the_rules_read_is_exported_by_the_service() -> None:
    families = {family.name for family in Metrics().registry.collect()}
    exported = families | {f"{name}_total" for name in families}
    read = {name for expr in _expressions() for name in re.findall(r"\banju_[a-z_]+", expr)}
    assert read and read <= exported, read - exported


def test_every_health_check_and_the_service_itself_has_a_rule() -> None:
    exprs = " ".join(_expressions())
    assert sorted(set(re.findall(r'check="([a-z]+)"', exprs))) == sorted(CHECKS)
    assert 'up{job="anju"} == 0' in exprs and 'absent(up{job="anju"})' in exprs
