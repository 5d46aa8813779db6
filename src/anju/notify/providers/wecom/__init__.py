"""WeCom (企业微信): posts markdown to a group robot; no signature, no delivery reports, no replies."""

from __future__ import annotations

from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec
from anju.notify.providers.wecom.client import WeComProvider
from anju.notify.providers.wecom.settings import WeComSettings


def _build(settings: ProviderSettings, args: BuildArgs) -> WeComProvider:
    assert isinstance(settings, WeComSettings) and settings.key
    return WeComProvider(key=settings.key.get_secret_value(), api_base=settings.api_base)


SPEC = ProviderSpec(
    name=WeComProvider.name,
    capabilities=frozenset({Capability.GROUP}),
    settings=WeComSettings,
    build=_build,
)

__all__ = ["SPEC", "WeComProvider", "WeComSettings"]
