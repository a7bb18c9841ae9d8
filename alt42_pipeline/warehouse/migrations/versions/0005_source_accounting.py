"""Real sources: ``events.raw_score`` (the mark as the source gave it, beside the normalised
``score``), ``ingest_accounting`` (per day, source and kind: rows read, events, rejects,
rows kept apart, updates of earlier days, rows without a usable time) and
``catalogue_problems`` (questions kept in the catalogue with a recorded problem).

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0005
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import column_missing, drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import UtcDateTime

revision = "0005"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if column_missing("events", "raw_score"):
        op.add_column(prefixed("events"), sa.Column("raw_score", sa.Float))
    if table_missing("ingest_accounting"):
        op.create_table(
            prefixed("ingest_accounting"),
            sa.Column("event_date", sa.Date, primary_key=True),
            sa.Column("source", sa.String(32), primary_key=True),
            sa.Column("kind", sa.String(64), primary_key=True),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("recorded_at", UtcDateTime, nullable=False),
            comment="Per ingested day and source: rows read = events + rejected + kept apart + updated.",
        )
    if table_missing("catalogue_problems"):
        op.create_table(
            prefixed("catalogue_problems"),
            sa.Column("question_id", sa.String(64), primary_key=True),
            sa.Column("problem", sa.String(64), primary_key=True),
            sa.Column("source", sa.String(32), nullable=False),
            sa.Column("detail", sa.Text),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            comment="Questions kept in the catalogue with a problem (bad meta, rejected anchor).",
        )


# SQLite rebuilds a table to drop a column, which a view reading it forbids: the view of
# revision 0003 is dropped and created again around the rebuild (its body as of 0003).
_ACTIVITY_VIEW = """
        SELECT user_id, event_date AS activity_date, COUNT(*) AS events,
               SUM(CASE WHEN verb = 'answered' THEN 1 ELSE 0 END) AS attempts,
               SUM(CASE WHEN verb = 'answered' AND success THEN 1 ELSE 0 END) AS correct,
               SUM(COALESCE(duration_s, 0)) AS time_on_task_s,
               MIN(occurred_at) AS first_activity_at, MAX(occurred_at) AS last_activity_at
        FROM {p}events
        GROUP BY user_id, event_date
"""


def downgrade() -> None:
    drop_tables("ingest_accounting", "catalogue_problems")
    if not column_missing("events", "raw_score"):
        sqlite = op.get_bind().dialect.name == "sqlite"
        view = prefixed("student_activity")
        if sqlite:
            op.execute(f"DROP VIEW IF EXISTS {view}")
        with op.batch_alter_table(prefixed("events")) as batch:
            batch.drop_column("raw_score")
        if sqlite:
            op.execute(f"CREATE VIEW {view} AS {_ACTIVITY_VIEW.format(p=prefixed(''))}")
