"""Helpers several domains use: settings, API clients, dispatch data, MQTT, the Twilio fake, the browser."""
