"""check-ins: the resident is asked before anyone is paged (table checkins); residents.mobile

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 02:40:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import anju.store.types


revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("mobile", sa.String(length=32), nullable=True))
    op.create_table(
        "checkins",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("suspicion_key", sa.String(length=128), nullable=False),
        sa.Column("finding_key", sa.String(length=128), nullable=False),
        sa.Column("asked_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("deadline", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", anju.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_at", anju.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unfed", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("opened_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", anju.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", anju.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_checkins_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_checkins_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("household_id", "finding_key", name="uq_checkins_household_finding_key"),
    )
    op.create_index("ix_checkins_state_due", "checkins", ["state", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_checkins_household_id"), "checkins", ["household_id"], unique=False)
    op.create_index(op.f("ix_checkins_incident_id"), "checkins", ["incident_id"], unique=False)
    op.create_index(op.f("ix_checkins_unfed"), "checkins", ["unfed"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_checkins_unfed"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_incident_id"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_household_id"), table_name="checkins")
    op.drop_index("ix_checkins_state_due", table_name="checkins")
    op.drop_table("checkins")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("mobile")
