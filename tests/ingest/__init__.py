"""Ingest: decoding, batch storage, the MQTT link and brokers, device profiles."""
