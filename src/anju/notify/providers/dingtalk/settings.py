"""DingTalk's settings: ``ANJU_DINGTALK_WEBHOOK`` and, with 加签 enabled, ``ANJU_DINGTALK_SECRET``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from anju.notify.providers.base import ProviderSettings


class DingTalkSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ANJU_DINGTALK_", extra="ignore")
    route_fields: ClassVar[frozenset[str]] = frozenset({"webhook", "secret"})

    webhook: str | None = None
    secret: SecretStr | None = None

    def configured(self) -> bool:
        return bool(self.webhook)
