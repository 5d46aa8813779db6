"""The hardware simulator: virtual homes with residents, devices that fail like real ones, and
emergencies with ground truth; written to files or published live over MQTT."""

from anju.simulator.catalog import Scenario, load_scenario
from anju.simulator.fleet import Fleet, SimDevice, SimHousehold, build_fleet
from anju.simulator.household import HouseholdSim, Truth
from anju.simulator.live import LiveStats, register_fleet, run_live

__all__ = [
    "Fleet",
    "HouseholdSim",
    "LiveStats",
    "Scenario",
    "SimDevice",
    "SimHousehold",
    "Truth",
    "build_fleet",
    "load_scenario",
    "register_fleet",
    "run_live",
]
