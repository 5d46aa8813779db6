"""Dispatch: incidents, their closed loop, escalation and the audit trail."""
