"""Dispatch: the incident state machine, escalation, policies, the incident routes, the SLA report."""
