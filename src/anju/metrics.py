"""Prometheus metrics with the contract's names, one registry per running service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingest_messages = Counter(
            "anju_ingest_messages",
            "Kit messages by what became of them",
            ["outcome"],
            registry=self.registry,
        )
        self.ingest_queue_depth = Gauge(
            "anju_ingest_queue_depth", "Messages decoded but not yet committed", registry=self.registry
        )
        self.ingest_paused = Gauge(
            "anju_ingest_paused", "1 while the reader is paused by back-pressure", registry=self.registry
        )
        self.ingest_batch_seconds = Histogram(
            "anju_ingest_batch_seconds", "Time to store one batch", registry=self.registry
        )
        self.incidents_open = Gauge(
            "anju_incidents_open", "Incidents not yet resolved", ["severity"], registry=self.registry
        )
        self.notifications = Counter(
            "anju_notifications",
            "Notifications by channel and status",
            ["channel", "status"],
            registry=self.registry,
        )
        self.alerts = Counter("anju_alerts", "Alerts raised", ["rule", "severity"], registry=self.registry)
