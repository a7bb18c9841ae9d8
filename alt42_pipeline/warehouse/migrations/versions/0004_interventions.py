"""Create the interventions tables: batch schedules, interventions and their errors.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import JsonDocument, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("batch_schedules", "interventions", "intervention_errors")


def upgrade() -> None:
    if table_missing("batch_schedules"):
        op.create_table(
            prefixed("batch_schedules"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(64), nullable=False),
            sa.Column("frequency", sa.String(16), nullable=False),
            sa.Column("hour", sa.Integer, nullable=False),
            sa.Column("minute", sa.Integer, nullable=False),
            sa.Column("timezone", sa.String(64), nullable=False),
            sa.Column("is_active", sa.Boolean, nullable=False),
            sa.Column("target", sa.String(64), nullable=False),
            sa.Column("created_at", UtcDateTime, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            sa.UniqueConstraint("name", name=prefixed("uq_batch_schedules_name")),
            comment="Batch schedules edited by users (daily, weekly = Sunday, monthly = the 1st).",
            # ids are part of run keys: never reuse the id of a deleted schedule
            sqlite_autoincrement=True,
        )
    if table_missing("interventions"):
        op.create_table(
            prefixed("interventions"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("date", sa.Date, primary_key=True),
            sa.Column("recommendation", sa.String(48), nullable=False),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("priority", sa.Integer, nullable=False),
            sa.Column("details", JsonDocument),
            sa.Column("recommender", sa.String(64), nullable=False),
            sa.Column("recommender_version", sa.String(32), nullable=False),
            sa.Column("run_id", sa.String(64)),
            sa.Column("created_at", UtcDateTime, nullable=False),
            comment="One recommendation per student and day (the primary key forbids duplicates).",
        )
        op.create_index(prefixed("ix_interventions_date"), prefixed("interventions"), ["date"])
    if table_missing("intervention_errors"):
        op.create_table(
            prefixed("intervention_errors"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("user_id", sa.BigInteger, nullable=False),
            sa.Column("date", sa.Date, nullable=False),
            sa.Column("error_type", sa.String(128), nullable=False),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("run_id", sa.String(64)),
            sa.Column("created_at", UtcDateTime, nullable=False),
            comment="A student the intervention batch could not process, and why.",
        )
        op.create_index(
            prefixed("ix_intervention_errors_date_user"), prefixed("intervention_errors"), ["date", "user_id"]
        )


def downgrade() -> None:
    drop_tables(*TABLES)
