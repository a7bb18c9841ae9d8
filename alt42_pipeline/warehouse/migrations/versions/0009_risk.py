"""Create the drop-out risk tables: ``risk_models`` (every nightly model with its test
metrics and the promotion decision) and ``student_risk`` (daily scores per student).

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import JsonDocument, UtcDateTime

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("risk_models", "student_risk")


def upgrade() -> None:
    if table_missing("risk_models"):
        op.create_table(
            prefixed("risk_models"),
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("trained_at", UtcDateTime, nullable=False),
            sa.Column("as_of", sa.Date, nullable=False),
            sa.Column("algorithm", sa.String(32), nullable=False),
            sa.Column("horizon_days", sa.Integer, nullable=False),
            sa.Column("threshold", sa.Float, nullable=False),
            sa.Column("params", JsonDocument, nullable=False),
            sa.Column("metrics", JsonDocument, nullable=False),
            sa.Column("rules_metrics", JsonDocument),
            sa.Column("incumbent_metrics", JsonDocument),
            sa.Column("split", JsonDocument, nullable=False),
            sa.Column("promoted", sa.Boolean, nullable=False),
            sa.Column("decision", sa.Text, nullable=False),
            sa.Column("run_id", sa.String(64)),
            comment="Every nightly risk model: its numbers, test metrics beside the rules', and whether it was promoted.",
        )
        op.create_index(prefixed("ix_risk_models_promoted"), prefixed("risk_models"), ["promoted", "version"])
    if table_missing("student_risk"):
        op.create_table(
            prefixed("student_risk"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("date", sa.Date, primary_key=True),
            sa.Column("probability", sa.Float, nullable=False),
            sa.Column("at_risk", sa.Boolean, nullable=False),
            sa.Column("reasons", JsonDocument),
            sa.Column("model_version", sa.Integer, nullable=False),
            sa.Column("computed_at", UtcDateTime, nullable=False),
            comment="Per active student and day: calibrated drop-out probability, alert flag and top reasons.",
        )
        op.create_index(prefixed("ix_student_risk_date"), prefixed("student_risk"), ["date"])


def downgrade() -> None:
    drop_tables(*TABLES)
