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
        self.notify_provider_sends = Counter(
            "anju_notify_provider_sends",
            "SMS and calls handed to each phone provider, by outcome (sent, failed)",
            ["provider", "channel", "outcome"],
            registry=self.registry,
        )
        self.notify_provider_up = Gauge(
            "anju_notify_provider_up",
            "1 while a phone provider takes sends, 0 while it is skipped as down",
            ["provider"],
            registry=self.registry,
        )
        self.notify_failovers = Counter(
            "anju_notify_failovers",
            "Notifications sent again through the other provider",
            ["from_provider", "to_provider", "channel"],
            registry=self.registry,
        )
        self.alerts = Counter("anju_alerts", "Alerts raised", ["rule", "severity"], registry=self.registry)
        # Alarm-path health (anju.health): set by the monitor; the rules in deploy/prometheus/ read them.
        self.alarm_path_healthy = Gauge(
            "anju_alarm_path_healthy",
            "1 while the alarm-path check holds, 0 while it fails",
            ["check"],
            registry=self.registry,
        )
        self.alarm_path_degradations = Counter(
            "anju_alarm_path_degradations",
            "Times an alarm-path check went from holding to failing",
            ["check"],
            registry=self.registry,
        )
        self.health_evaluated = Gauge(
            "anju_health_last_evaluation_timestamp_seconds",
            "Unix time of the health monitor's last evaluation",
            registry=self.registry,
        )
        self.ingest_oldest_waiting = Gauge(
            "anju_ingest_oldest_waiting_seconds",
            "Age of the oldest message received and not yet committed (0: none waits), read at scrape",
            registry=self.registry,
        )
        self.canary_last_stored = Gauge(
            "anju_canary_last_stored_timestamp_seconds",
            "Unix time at which this process last stored its own canary (0: not yet)",
            registry=self.registry,
        )
