"""The provider table: each provider is one package, declares what it can do, and is named nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from anju.config import load_settings
from anju.notify.outbox import build_provider
from anju.notify.providers import PROVIDERS, Capability
from anju.notify.providers.base import ProviderSettings
from tests.support.api import webhook_paths

SRC = Path(__file__).resolve().parents[2] / "src" / "anju"
PROVIDERS_DIR = SRC / "notify" / "providers"
#: Outside the provider packages, these may spell a provider's name in code, and why.
ALLOWED = {
    # The contract's flat settings (ANJU_TWILIO_*, ANJU_DINGTALK_*), kept so overrides keep working.
    SRC / "config.py",
}
#: "dingtalk" is also a channel (Channel.DINGTALK), which the outbox, console and capabilities name.
CHANNEL_WORDS = {"dingtalk"}


def test_every_registered_provider_declares_its_capabilities_and_settings_prefix() -> None:
    names = [spec.name for spec in PROVIDERS]
    prefixes = [spec.settings.env_prefix() for spec in PROVIDERS]
    assert len(set(names)) == len(names)
    assert len(set(prefixes)) == len(prefixes)
    for spec in PROVIDERS:
        assert spec.capabilities, spec.name
        assert issubclass(spec.settings, ProviderSettings)
        assert re.fullmatch(r"ANJU_[A-Z_]+_", spec.settings.env_prefix()), spec.name
        assert (PROVIDERS_DIR / spec.name / "__init__.py").is_file(), f"{spec.name} is not a package"
        if {Capability.DELIVERY_STATUS, Capability.REPLIES} & spec.capabilities:
            assert spec.router is not None, f"{spec.name} takes reports or replies but has no webhooks"
    for channel in (Capability.SMS, Capability.VOICE, Capability.DINGTALK):
        assert any(spec.serves(channel) and not spec.dev_only for spec in PROVIDERS), channel


def test_the_webhook_urls_stay_where_the_providers_call_them() -> None:
    assert webhook_paths() == {
        "/twilio/sms/status",
        "/twilio/voice/status",
        "/twilio/voice/{notification_id}/twiml",
        "/twilio/voice/{notification_id}/gather",
        "/twilio/sms/inbound",
        "/aliyun/{token}/SmsReport",
        "/aliyun/{token}/SmsUp",
        "/aliyun/{token}/VoiceReport",
        "/aliyun/{token}/VoiceCallReport",
        "/twilio/bridge/{ref}/twiml",
        "/twilio/bridge/{ref}/status",
        "/twilio/bridge/{ref}/dialed",
    }


def test_the_contracts_environment_names_still_configure_the_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANJU_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("ANJU_TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("ANJU_TWILIO_FROM", "+15005550006")
    monkeypatch.setenv("ANJU_PUBLIC_URL", "https://anju.example.org")
    monkeypatch.setenv("ANJU_DINGTALK_WEBHOOK", "https://oapi.dingtalk.com/robot/send?access_token=x")
    monkeypatch.setenv("ANJU_WECOM_KEY", "693a91f6-0000-4bc4-97a0-0ec2sifa5aaa")
    monkeypatch.setenv("ANJU_ALIYUN_ACCESS_KEY_ID", "LTAI-test")
    monkeypatch.setenv("ANJU_ALIYUN_ACCESS_KEY_SECRET", "secret")
    monkeypatch.setenv("ANJU_ALIYUN_SMS_SIGN_NAME", "安居守护")
    monkeypatch.setenv("ANJU_ALIYUN_SMS_TEMPLATE_ALERT_ZH", "SMS_1")
    monkeypatch.setenv("ANJU_ALIYUN_VOICE_TEMPLATE_ALERT_ZH", "TTS_1")
    notifier = build_provider(load_settings())
    assert notifier.describe() == "sms/voice: twilio+aliyun, group chat: dingtalk+wecom"
    for spec in PROVIDERS:
        if not spec.dev_only:
            # Read by the provider's own settings class as well, without the service's settings.
            assert spec.settings().configured(), spec.name


def test_without_settings_only_the_development_log_provider_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    unset = ("ANJU_TWILIO_ACCOUNT_SID", "ANJU_TWILIO_AUTH_TOKEN", "ANJU_TWILIO_FROM", "ANJU_DINGTALK_WEBHOOK")
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    assert build_provider(load_settings()).describe() == "sms/voice: none, group chat: none"
    assert build_provider(load_settings(), dev_log=True).describe() == "sms/voice: log, group chat: log"


def _names_in_code(tree: ast.AST) -> set[str]:
    """Identifiers and imported module paths; strings and docstrings are text, not references."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def test_the_registration_table_is_the_only_place_that_names_a_provider() -> None:
    words = {spec.name for spec in PROVIDERS if spec.name != "log"}  # "log" is everyone's logger
    packages = {f"anju.notify.providers.{spec.name}" for spec in PROVIDERS}
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        if PROVIDERS_DIR in path.parents or path in ALLOWED:
            continue
        for name in _names_in_code(ast.parse(path.read_text(encoding="utf-8"))):
            lowered = name.lower()
            if any(lowered == pkg or lowered.startswith(pkg + ".") for pkg in packages):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
            for word in words - CHANNEL_WORDS:
                if word in lowered:
                    offenders.append(f"{path.relative_to(SRC)} names {word} ({name})")
            for word in words & CHANNEL_WORDS:
                if word in lowered and lowered != word:
                    offenders.append(f"{path.relative_to(SRC)} names {word} ({name})")
    assert not offenders, "\n".join(offenders)
