"""Wires the live service: ingest, engine, dispatch, notify, API and console, started together.

``pipeline`` (engine plus dispatch in the caller's transaction), ``snapshots`` (engine state saved
and restored), ``service`` (the tasks of one asyncio loop), ``commands`` (the CLI's verbs) and
``demo`` (``anju demo``). The names below are the package's public face.
"""

from anju.runtime.commands import add_user, audit_verify, db_upgrade, run_demo, run_service
from anju.runtime.pipeline import RECONFIGURE_MARGIN, Pipeline
from anju.runtime.service import RECONFIGURE_S, TICK_S, MqttTarget, Service, ensure_port_free
from anju.runtime.snapshots import SNAPSHOT_CHUNK, SNAPSHOT_MARGIN, SNAPSHOT_S

__all__ = [
    "RECONFIGURE_MARGIN",
    "RECONFIGURE_S",
    "SNAPSHOT_CHUNK",
    "SNAPSHOT_MARGIN",
    "SNAPSHOT_S",
    "TICK_S",
    "MqttTarget",
    "Pipeline",
    "Service",
    "add_user",
    "audit_verify",
    "db_upgrade",
    "ensure_port_free",
    "run_demo",
    "run_service",
]
