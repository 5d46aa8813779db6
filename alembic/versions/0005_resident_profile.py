"""resident profile: mobility, hearing, dialect, medical notes, medication, hospital; key holder and
access notes; renderings in other languages; the operator's desk phone

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 02:10:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

RESIDENT_TEXT = (
    ("mobility", sa.String(length=32)),
    ("hearing", sa.String(length=32)),
    ("dialect", sa.String(length=64)),
    ("medical_notes", sa.Text()),
    ("medication", sa.Text()),
    ("preferred_hospital", sa.String(length=128)),
)


def upgrade() -> None:
    # Existing rows get "" and {} (the models' defaults), so the columns can be NOT NULL at once.
    with op.batch_alter_table("residents") as batch:
        for name, type_ in RESIDENT_TEXT:
            batch.add_column(sa.Column(name, type_, nullable=False, server_default=""))
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("households") as batch:
        batch.add_column(sa.Column("key_holder", sa.String(length=256), nullable=False, server_default=""))
        batch.add_column(sa.Column("access_notes", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("desk_phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("desk_phone")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("households") as batch:
        batch.drop_column("translations")
        batch.drop_column("access_notes")
        batch.drop_column("key_holder")
    with op.batch_alter_table("residents") as batch:
        for name, _type in reversed(RESIDENT_TEXT):
            batch.drop_column(name)
        batch.drop_column("translations")
