"""Create ``anchor_review``: the anchors a calibration found drifting, kept out of the linking
until someone reviews them (status ``pending``; ``reinstated`` puts one back, ``retired`` keeps
it out for good). One row per anchor item: its latest flag and review.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import UtcDateTime

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("anchor_review",)


def upgrade() -> None:
    if table_missing("anchor_review"):
        op.create_table(
            prefixed("anchor_review"),
            sa.Column("item_id", sa.String(64), primary_key=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("calibration_id", sa.String(64)),
            sa.Column("flagged_at", UtcDateTime, nullable=False),
            sa.Column("delta_b", sa.Float),
            sa.Column("z_b", sa.Float),
            sa.Column("p_value", sa.Float),
            sa.Column("reviewed_at", UtcDateTime),
            sa.Column("reviewed_by", sa.String(64)),
            sa.Column("note", sa.String(500)),
            comment="Anchors found drifting: pending ones (and retired ones) are kept out of the "
            "linking until reviewed.",
        )


def downgrade() -> None:
    drop_tables(*TABLES)
