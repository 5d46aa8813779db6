"""WeCom's settings: ``ANJU_WECOM_KEY`` (the group robot's webhook key) and where to post."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from anju.notify.providers.base import ProviderSettings

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"


class WeComSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ANJU_WECOM_", extra="ignore")
    route_fields: ClassVar[frozenset[str]] = frozenset({"key"})

    #: The ``key`` of the robot's webhook URL (``.../cgi-bin/webhook/send?key=...``): its only credential.
    key: SecretStr | None = None
    #: Another server speaking the robot API (the fake in tests): ``http://127.0.0.1:PORT``.
    api_base: str = DEFAULT_API_BASE

    def configured(self) -> bool:
        return bool(self.key and self.key.get_secret_value())
