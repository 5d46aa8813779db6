"""The rules, one module per rule or close family, in the order their timers fire when due together.

A new rule is one module here (a ``Rule`` with its sections, parameters, state slice and hooks),
one line in ``RULES`` and its section in the packs.
"""

from __future__ import annotations

from anju.engine.rules.away import Away
from anju.engine.rules.base import Config, Rule
from anju.engine.rules.battery import LowBattery
from anju.engine.rules.button import Button
from anju.engine.rules.checkin import CheckIn
from anju.engine.rules.door import DoorLeftOpen
from anju.engine.rules.inactivity import Inactivity
from anju.engine.rules.morning import NoMorningActivity
from anju.engine.rules.offline import DeviceOffline
from anju.engine.rules.routine import RoutineAnomaly
from anju.engine.rules.tamper import Tamper

#: Every rule, in firing order (the end of the activity day fires between ``no_morning_activity``
#: and the device timers: ``DAY_END_AT``).
RULES: tuple[type[Rule], ...] = (
    Away,
    Inactivity,
    NoMorningActivity,
    DoorLeftOpen,
    DeviceOffline,
    LowBattery,
    Tamper,
    Button,
    RoutineAnomaly,
    CheckIn,
)
DAY_END_AT = 3

__all__ = ["DAY_END_AT", "RULES", "Config", "Rule"]
