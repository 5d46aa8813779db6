"""ingest canaries and revoked tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 07:50:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import anju.store.types


revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "ingest_canaries",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("sent_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_ingest_canaries")),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_revoked_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_tokens_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_revoked_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_revoked_tokens_user_id"))
    op.drop_table("revoked_tokens")
    op.drop_table("ingest_canaries")
