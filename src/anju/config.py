"""Settings from the environment (prefix ``ANJU_``), per the contract."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from anju.errors import ConfigError

#: Secrets that must never guard a real deployment.
#: The demo's key: long enough for HS256 (PyJWT warns under 32 bytes), refused by ``anju run``.
DEMO_SECRET = "anju-demo-secret-for-this-machine-only-never-production"
DEFAULT_SECRETS = frozenset({"", "changeme", "change-me", "secret", "demo", "anju-demo-secret", DEMO_SECRET})

#: Where the editable data folders (sensors/, rules/, simulator/, alembic/) live: the source tree,
#: or ANJU_PROJECT_ROOT for an installed copy (the container image sets it).
PROJECT_ROOT = Path(os.environ.get("ANJU_PROJECT_ROOT") or Path(__file__).resolve().parents[2])


class Settings(BaseSettings):
    """Every knob of the service; names and defaults follow CONTRACT.md section 4."""

    model_config = SettingsConfigDict(env_prefix="ANJU_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./anju.db"
    mqtt_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    timezone: str = "Asia/Shanghai"
    secret_key: SecretStr = SecretStr("")
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    public_url: str | None = None
    dingtalk_webhook: str | None = None
    dingtalk_secret: SecretStr | None = None

    sensors_dir: Path = PROJECT_ROOT / "sensors"
    rules_dir: Path = PROJECT_ROOT / "rules"
    simulator_dir: Path = PROJECT_ROOT / "simulator"

    mqtt_client_id: str = "anju-ingest"
    #: CA certificate(s) (PEM) that sign the broker's TLS certificate for ``mqtts://``; unset: the
    #: system's trusted CAs. The MQTT link reads it from the environment (``ANJU_MQTT_CA_FILE``).
    mqtt_ca_file: Path | None = None
    #: MQTT v5 session expiry: how long the broker keeps our queue while Anju is down.
    mqtt_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    ingest_batch_size: int = Field(default=1000, ge=1, le=10000)
    ingest_batch_wait_ms: int = Field(default=20, ge=0, le=5000)
    #: Messages decoded but not yet committed; past this the reader pauses (back-pressure).
    ingest_queue_limit: int = Field(default=20000, ge=100)
    max_clock_skew_s: float = 300.0
    #: Alarm-path health (docs/operations.md): how often it is evaluated; ingest that has not
    #: committed this long while messages wait is stalled; the canary's period and deadline; how
    #: long a failure lasts before it pages; how long all must hold before an episode has recovered.
    health_interval_s: float = Field(default=5.0, gt=0, le=300)
    health_stall_s: float = Field(default=30.0, gt=0)
    canary_interval_s: float = Field(default=30.0, gt=0)
    canary_deadline_s: float = Field(default=15.0, gt=0)
    health_page_after_s: float = Field(default=15.0, ge=0)
    health_recover_s: float = Field(default=60.0, ge=0)
    token_ttl_s: int = 12 * 3600

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"ANJU_MQTT_URL must start with mqtt:// or mqtts://, got {scheme!r}")
        return value

    @field_validator("mqtt_ca_file", mode="before")
    @classmethod
    def _ca_file_readable(cls, value: object) -> Path | None:
        if value is None or str(value) == "":
            return None
        path = Path(str(value))
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ValueError(f"ANJU_MQTT_CA_FILE {str(path)!r} is not a readable file")
        return path

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_production_secret(self) -> None:
        """Refuse to serve real homes with a missing or well-known secret."""
        secret = self.secret_key.get_secret_value()
        if secret.strip().lower() in DEFAULT_SECRETS:
            raise ConfigError(
                "ANJU_SECRET_KEY is missing or a default value; set it to a long random string "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))'). "
                "Only `anju demo` runs without one."
            )
        if len(secret) < 16:
            raise ConfigError("ANJU_SECRET_KEY is too short: use at least 16 characters.")

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as err:
        raise ConfigError(f"invalid settings: {err}") from err
