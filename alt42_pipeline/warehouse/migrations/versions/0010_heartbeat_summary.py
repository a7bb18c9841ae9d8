"""Add ``heartbeat_log.summary``: the heartbeat's JSON result exactly as the legacy
``heartbeat.php`` printed it (``success, timestamp, students_processed, errors, duration_ms,
results``), so monitoring that read the legacy output can read the log row instead.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0010
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import column_missing, prefixed
from alt42_pipeline.warehouse.types import JsonDocument

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if column_missing("heartbeat_log", "summary"):
        op.add_column(prefixed("heartbeat_log"), sa.Column("summary", JsonDocument))


def downgrade() -> None:
    if not column_missing("heartbeat_log", "summary"):
        with op.batch_alter_table(prefixed("heartbeat_log")) as batch:
            batch.drop_column("summary")
