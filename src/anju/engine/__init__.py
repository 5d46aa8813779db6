"""The rule engine: pure, on event time, no I/O."""
