"""What a provider package declares: its name, what it can do, its settings and how it is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Self

from pydantic_settings import BaseSettings

from anju.clock import Clock
from anju.config import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter

    from anju.notify.provider import ChatProvider, PhoneProvider, ResidentLine


class Capability(StrEnum):
    """What a provider offers; the outbox routes each channel to a provider that has it."""

    SMS = "sms"
    VOICE = "voice"
    DINGTALK = "dingtalk"
    #: Posts to a group chat robot: the area's group (``group`` rows, routed by ``ANJU_CHAT_ROUTES``).
    GROUP = "group"
    #: Reports delivery later (status callbacks), so a row waits for a report with a deadline.
    DELIVERY_STATUS = "delivery_status"
    #: Receives the recipients' answers (SMS replies, key presses) on its webhooks.
    REPLIES = "replies"
    #: Finds its copy of an attempt a dead worker never recorded (no second send after a crash).
    LOOKUP = "lookup"


class ProviderSettings(BaseSettings):
    """A provider's own settings, read from the environment under its ``env_prefix``.

    Values the service's :class:`~anju.config.Settings` already holds under the same names (the
    contract's ``ANJU_TWILIO_*``, and overrides given to ``load_settings``) take precedence.
    """

    #: Fields whose name in the service's settings is not ``<prefix stem><field>``, e.g.
    #: ``{"public_url": "public_url"}`` for a setting the service shares with the provider.
    service_names: ClassVar[dict[str, str]] = {}
    #: The credentials of one robot (a group chat provider): an area's route gives its own, and
    #: takes every other field from the provider's global settings.
    route_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def env_prefix(cls) -> str:
        return str(cls.model_config.get("env_prefix", ""))

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """This provider's slice of ``settings``; anything the service does not hold comes from the env."""
        stem = cls.env_prefix().removeprefix("ANJU_").lower()
        given: dict[str, object] = {}
        for name in cls.model_fields:
            key = cls.service_names.get(name, stem + name)
            value = getattr(settings, key, None)
            if value is not None:
                given[name] = value
        return cls(**given)  # type: ignore[arg-type]

    def for_route(self, fields: dict[str, object]) -> Self:
        """These settings with one route's credentials (``route_fields``) instead of the global ones."""
        unknown = sorted(set(fields) - self.route_fields)
        if unknown:
            raise ValueError(
                f"unknown fields {', '.join(unknown)} (allowed: {', '.join(sorted(self.route_fields))})"
            )
        kept = self.model_dump(exclude=set(self.route_fields))
        # Unset credentials are given as their defaults: the environment's global ones must not leak in.
        unset = {name: type(self).model_fields[name].default for name in self.route_fields}
        return type(self)(**{**kept, **unset, **fields})

    def configured(self) -> bool:
        """Whether enough is set to build the provider."""
        return True


#: What building a provider may need besides its own settings.
@dataclass(frozen=True, kw_only=True)
class BuildArgs:
    clock: Clock
    ring_timeout_s: int
    #: The simulated residents a dev-only phone hands check-ins to (``anju demo``), else None.
    residents: ResidentLine | None = None


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    """One row of the registration table (``anju.notify.providers.PROVIDERS``)."""

    name: str
    capabilities: frozenset[Capability]
    settings: type[ProviderSettings]
    build: Callable[[ProviderSettings, BuildArgs], PhoneProvider | ChatProvider]
    #: Its webhooks (imported only when the web app is built), or None.
    router: Callable[[], APIRouter] | None = None
    #: Built only when asked for (the development log provider), never from settings alone.
    dev_only: bool = False
    #: A dev-only phone whose calls reach simulated residents: built when residents are given.
    answers_for_residents: bool = False

    def serves(self, capability: Capability) -> bool:
        return capability in self.capabilities
