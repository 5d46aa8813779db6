"""phone provider routing: households and contacts may name the provider for their SMS and calls

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 02:30:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("households") as batch:
        batch.add_column(sa.Column("phone_provider", sa.String(length=32), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("phone_provider", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("phone_provider")
    with op.batch_alter_table("households") as batch:
        batch.drop_column("phone_provider")
