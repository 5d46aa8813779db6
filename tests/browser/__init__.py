"""Helpers for the console's browser tests: a live server, Chromium, seeded data."""
