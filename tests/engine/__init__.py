"""The rule engine: rules, learning, places, snapshots, replay."""
