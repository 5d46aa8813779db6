"""The demo's simulated phone: check-in calls and SMS reach the simulator's residents (dev only).

Built only when the demo gives it simulated residents and no real phone provider is configured;
never by ``anju run``, and no household or contact may name it.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec
from anju.notify.providers.simulated_phone.client import SimulatedPhone


class SimulatedPhoneSettings(ProviderSettings):
    """Nothing to set; the prefix is reserved."""

    model_config = SettingsConfigDict(env_prefix="ANJU_SIMULATED_PHONE_", extra="ignore")


def _build(settings: ProviderSettings, args: BuildArgs) -> SimulatedPhone:
    return SimulatedPhone(args.residents, clock=args.clock)


SPEC = ProviderSpec(
    name=SimulatedPhone.name,
    capabilities=frozenset({Capability.SMS, Capability.VOICE}),
    settings=SimulatedPhoneSettings,
    build=_build,
    dev_only=True,
    answers_for_residents=True,
)

__all__ = ["SPEC", "SimulatedPhone", "SimulatedPhoneSettings"]
