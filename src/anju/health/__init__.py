"""Alarm-path health: checks evaluated in the running service, and the incident a degradation opens."""

from anju.health.monitor import CHECKS, HealthMonitor, Probe

__all__ = ["CHECKS", "HealthMonitor", "Probe"]
