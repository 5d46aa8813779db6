"""The development log provider: every channel, written to the log (``anju demo``, tests)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec
from anju.notify.providers.log.client import LogProvider


class LogSettings(ProviderSettings):
    """Nothing to set; the prefix is reserved."""

    model_config = SettingsConfigDict(env_prefix="ANJU_LOG_PROVIDER_", extra="ignore")


def _build(settings: ProviderSettings, args: BuildArgs) -> LogProvider:
    return LogProvider()


SPEC = ProviderSpec(
    name=LogProvider.name,
    capabilities=frozenset({Capability.SMS, Capability.VOICE, Capability.DINGTALK, Capability.GROUP}),
    settings=LogSettings,
    build=_build,
    dev_only=True,
)

__all__ = ["SPEC", "LogProvider", "LogSettings"]
