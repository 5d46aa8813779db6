"""The audit trail: the hash chain and which changes it records."""
