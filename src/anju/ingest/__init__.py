"""MQTT ingest: device profiles, topic and payload decoding, dedupe, batched durable storage."""

from anju.ingest.ingestor import Ingestor, IngestStats, OnStored

__all__ = ["IngestStats", "Ingestor", "OnStored"]
