"""The web console: server side, Chromium, languages, reports."""
