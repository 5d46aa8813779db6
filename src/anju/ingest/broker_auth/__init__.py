"""Broker credentials and ACLs from the device registry: only a home's own kit may speak for it.

Each gateway (or a device that logs in itself) gets its own MQTT user, kept in ``broker_credentials``
with a hash both brokers accept: Mosquitto's ``$7$`` PBKDF2-SHA512 string, whose ASCII salt and key
the PostgreSQL views ``mqtt_user`` / ``mqtt_acl`` (migration 0003) hand to EMQX. ``anju broker
write-auth`` renders Mosquitto's ``password_file`` and ``acl_file`` from the registry, replaces them
atomically only when their content changed and sends the broker SIGHUP so it reloads them;
``--watch`` keeps doing so as gateways and devices are added, rotated or removed.
"""

from anju.ingest.broker_auth.command import add_arguments, run
from anju.ingest.broker_auth.credentials import GATEWAY, SERVICE, ensure_service_user, issue_gateway, revoke
from anju.ingest.broker_auth.files import BrokerFiles, render, watch, write_auth, write_if_changed
from anju.ingest.broker_auth.hashes import PBKDF2_ITERATIONS, hash_password, parse_hash, verify_password
from anju.ingest.broker_auth.warnings import broker_warnings

__all__ = [
    "GATEWAY",
    "PBKDF2_ITERATIONS",
    "SERVICE",
    "BrokerFiles",
    "add_arguments",
    "broker_warnings",
    "ensure_service_user",
    "hash_password",
    "issue_gateway",
    "parse_hash",
    "render",
    "revoke",
    "run",
    "verify_password",
    "watch",
    "write_auth",
    "write_if_changed",
]
