"""Every table of Anju (SQLAlchemy 2, ``Mapped[]`` only), one module per domain; import them from here.

Importing the package registers every table on ``Base.metadata``, which Alembic compares against.
"""

from anju.store.models.accounts import AuditRecord, RevokedToken, User
from anju.store.models.base import NAMING, Base, BigId
from anju.store.models.households import Contact, Device, Household, Resident
from anju.store.models.incidents import Alert, Checkin, Incident, IncidentEvent
from anju.store.models.ingest import (
    BrokerCredential,
    DeadLetter,
    EngineSnapshot,
    IngestCanary,
    SensorEvent,
    UnknownDevice,
)
from anju.store.models.notifications import Notification

__all__ = [
    "NAMING",
    "Alert",
    "AuditRecord",
    "Base",
    "BigId",
    "BrokerCredential",
    "Checkin",
    "Contact",
    "DeadLetter",
    "Device",
    "EngineSnapshot",
    "Household",
    "Incident",
    "IncidentEvent",
    "IngestCanary",
    "Notification",
    "Resident",
    "RevokedToken",
    "SensorEvent",
    "UnknownDevice",
    "User",
]
