"""MQTT ingest: device profiles, topic and payload decoding, dedupe, batched durable storage."""

from anju.ingest.batches import IngestStats, OnStored
from anju.ingest.ingestor import Ingestor

__all__ = ["IngestStats", "Ingestor", "OnStored"]
