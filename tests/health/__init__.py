"""Health: liveness, readiness, metrics, the supervisor's incident, the Prometheus rules."""
