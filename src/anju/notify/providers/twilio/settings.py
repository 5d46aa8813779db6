"""Twilio's settings: ``ANJU_TWILIO_*``, plus the public URL its webhooks are reached and signed at."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from anju.notify.providers.base import ProviderSettings

DEFAULT_API_BASE = "https://api.twilio.com"


class TwilioSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ANJU_TWILIO_", extra="ignore", populate_by_name=True)
    service_names: ClassVar[dict[str, str]] = {"from_number": "twilio_from", "public_url": "public_url"}

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    #: ``ANJU_TWILIO_FROM``: the number SMS and calls come from.
    from_number: str | None = Field(default=None, validation_alias="ANJU_TWILIO_FROM")
    #: Another server speaking Twilio's API (Prism, or the fake in tests).
    api_base: str = DEFAULT_API_BASE
    #: ``ANJU_PUBLIC_URL``, shared with the service.
    public_url: str | None = Field(default=None, validation_alias="ANJU_PUBLIC_URL")

    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.from_number)
