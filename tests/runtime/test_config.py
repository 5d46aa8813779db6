"""Settings: the contract's ANJU_ variables and the refusal to run with a default secret."""

from __future__ import annotations

import pytest

from anju.config import load_settings
from anju.errors import ConfigError


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "ANJU_DATABASE_URL",
        "ANJU_MQTT_URL",
        "ANJU_HTTP_HOST",
        "ANJU_HTTP_PORT",
        "ANJU_TIMEZONE",
        "ANJU_TWILIO_API_BASE",
    ):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./anju.db"
    assert settings.mqtt_url is None
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8000)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.twilio_api_base == "https://api.twilio.com"
    assert not settings.twilio_configured


def test_environment_variables_are_read_with_the_anju_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANJU_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("ANJU_MQTT_URL", "mqtts://user:pw@broker:8883")
    monkeypatch.setenv("ANJU_HTTP_PORT", "9000")
    monkeypatch.setenv("ANJU_TIMEZONE", "Europe/London")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.mqtt_url == "mqtts://user:pw@broker:8883"
    assert settings.http_port == 9000
    assert settings.tz.key == "Europe/London"


@pytest.mark.parametrize("secret", ["", "changeme", "secret", "anju-demo-secret", "short"])
def test_service_refuses_a_missing_default_or_short_secret(secret: str) -> None:
    settings = load_settings(secret_key=secret)
    with pytest.raises(ConfigError, match="ANJU_SECRET_KEY"):
        settings.require_production_secret()


def test_service_accepts_a_long_random_secret() -> None:
    load_settings(secret_key="q8Jc2v9Zt7nVx3LwR5pK1mHs").require_production_secret()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("mqtt_url", "http://broker:1883", "mqtt:// or mqtts://"),
        ("http_port", "0", "http_port"),
    ],
)
def test_invalid_settings_are_refused_with_the_reason(field: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_settings(**{field: value})
