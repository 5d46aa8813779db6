"""Notify: the outbox, providers, templates, Twilio webhooks and Prism."""
