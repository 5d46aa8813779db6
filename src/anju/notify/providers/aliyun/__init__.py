"""Aliyun: mainland SMS and voice, receipts and replies pushed to ``/aliyun/{token}/...``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.notify.providers.aliyun.client import AliyunProvider
from anju.notify.providers.aliyun.settings import AliyunSettings
from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec

if TYPE_CHECKING:
    from fastapi import APIRouter


def _build(settings: ProviderSettings, args: BuildArgs) -> AliyunProvider:
    assert isinstance(settings, AliyunSettings)
    return AliyunProvider(settings, ring_timeout_s=args.ring_timeout_s)


def _router() -> APIRouter:
    from anju.notify.providers.aliyun.webhooks import router

    return router


SPEC = ProviderSpec(
    name=AliyunProvider.name,
    capabilities=frozenset(
        {Capability.SMS, Capability.VOICE, Capability.DELIVERY_STATUS, Capability.REPLIES}
    ),
    settings=AliyunSettings,
    build=_build,
    router=_router,
)

__all__ = ["SPEC", "AliyunProvider", "AliyunSettings"]
