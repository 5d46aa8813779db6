"""Wires the live service: ingest, engine, dispatch, notify, API and console, started together."""

from __future__ import annotations
