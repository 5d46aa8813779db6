"""End to end: the running service from MQTT to an incident and a phone answer."""
