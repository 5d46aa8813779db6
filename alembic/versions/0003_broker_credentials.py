"""broker credentials and ACLs: per-gateway MQTT logins, and views for EMQX

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:50:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import anju.store.types


revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Views for EMQX's built-in PostgreSQL authenticator and authorizer (docs/operations.md):
#   authn: SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1
#          with password_hash_algorithm {name = pbkdf2, mac_fun = sha512, iterations = 1000, dk_length = 64}
#   authz: SELECT permission, action, topic FROM mqtt_acl WHERE username = ${username}
# Both come from the single stored Mosquitto hash "$7$<iterations>$<base64 salt>$<base64 key>": the salt
# is ASCII text (so EMQX, which uses the salt column's bytes, derives the same key) and EMQX compares
# the key as lowercase hex. Topics follow the kit protocol (CONTRACT.md section 1) and the
# Zigbee2MQTT profile, as anju.ingest.broker_auth writes them for Mosquitto; identities that cannot be
# a literal topic level (wildcards, "/", "$") are left out, as there.
MQTT_USER_VIEW = """
CREATE VIEW mqtt_user AS
SELECT c.username AS username,
       encode(decode(split_part(c.password_hash, '$', 5), 'base64'), 'hex') AS password_hash,
       convert_from(decode(split_part(c.password_hash, '$', 4), 'base64'), 'UTF8') AS salt,
       false AS is_superuser
FROM broker_credentials c
WHERE c.password_hash LIKE '$7$%'
"""

_GATEWAY_DEVICES = """
FROM broker_credentials c
JOIN devices d ON (c.device_id IS NULL AND d.household_id = c.household_id) OR d.id = c.device_id
WHERE c.role = 'gateway'
"""
_KIT = " AND d.protocol = 'anju-v1' AND d.id ~ '^[A-Za-z0-9_.-]{1,64}$'"
_Z2M = (
    " AND d.protocol = 'zigbee2mqtt' AND d.external_name IS NOT NULL AND d.external_name <> ''"
    " AND d.external_name !~ '[+#/$\\r\\n]' AND d.external_name = btrim(d.external_name)"
)

MQTT_ACL_VIEW = f"""
CREATE VIEW mqtt_acl AS
SELECT c.username AS username, 'allow'::text AS permission, 'publish'::text AS action,
       'anju/v1/' || d.id || '/event' AS topic {_GATEWAY_DEVICES} {_KIT}
UNION ALL
SELECT c.username, 'allow', 'publish', 'anju/v1/' || d.id || '/heartbeat' {_GATEWAY_DEVICES} {_KIT}
UNION ALL
SELECT c.username, 'allow', 'publish', 'zigbee2mqtt/' || d.external_name {_GATEWAY_DEVICES} {_Z2M}
UNION ALL
SELECT c.username, 'allow', 'publish', 'zigbee2mqtt/' || d.external_name || '/availability'
       {_GATEWAY_DEVICES} {_Z2M}
UNION ALL
SELECT s.username, 'allow', 'subscribe', t.topic
FROM broker_credentials s
CROSS JOIN (VALUES ('anju/v1/+/event'), ('anju/v1/+/heartbeat'),
                   ('zigbee2mqtt/+'), ('zigbee2mqtt/+/availability')) AS t(topic)
WHERE s.role = 'service'
UNION ALL
SELECT s.username, 'allow', 'all', 'anju/sys/canary/#' FROM broker_credentials s WHERE s.role = 'service'
"""


def upgrade() -> None:
    op.create_table(
        "broker_credentials",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_broker_credentials_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_broker_credentials_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_broker_credentials")),
    )
    with op.batch_alter_table("broker_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broker_credentials_household_id"), ["household_id"], unique=False
        )
    # EMQX reads PostgreSQL only; on SQLite (single site, Mosquitto) the files are the only output.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(MQTT_USER_VIEW)
        op.execute(MQTT_ACL_VIEW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP VIEW IF EXISTS mqtt_acl")
        op.execute("DROP VIEW IF EXISTS mqtt_user")
    with op.batch_alter_table("broker_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broker_credentials_household_id"))
    op.drop_table("broker_credentials")
