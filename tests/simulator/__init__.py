"""The hardware simulator, offline and live."""
