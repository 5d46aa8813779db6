"""The HTTP API: sign-in, tokens, roles, households, devices, events, users, hostile use."""
