"""DingTalk: posts to a group robot; no delivery reports, no replies."""

from __future__ import annotations

from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec
from anju.notify.providers.dingtalk.client import DingTalkProvider
from anju.notify.providers.dingtalk.settings import DingTalkSettings


def _build(settings: ProviderSettings, args: BuildArgs) -> DingTalkProvider:
    assert isinstance(settings, DingTalkSettings) and settings.webhook
    secret = settings.secret.get_secret_value() if settings.secret else None
    return DingTalkProvider(webhook=settings.webhook, secret=secret, clock=args.clock)


SPEC = ProviderSpec(
    name=DingTalkProvider.name,
    capabilities=frozenset({Capability.DINGTALK, Capability.GROUP}),
    settings=DingTalkSettings,
    build=_build,
)

__all__ = ["SPEC", "DingTalkProvider", "DingTalkSettings"]
