"""The audit chain, kept importable here for older callers; it lives on its own floor, ``anju.audit``."""

from anju.audit.chain import (
    CHAIN_LOCK_KEY,
    GENESIS,
    ChainBreak,
    ChainHead,
    lock_chain,
    record,
    record_hash,
    verify,
    verify_chain,
    verify_database,
)

__all__ = [
    "CHAIN_LOCK_KEY",
    "GENESIS",
    "ChainBreak",
    "ChainHead",
    "lock_chain",
    "record",
    "record_hash",
    "verify",
    "verify_chain",
    "verify_database",
]
