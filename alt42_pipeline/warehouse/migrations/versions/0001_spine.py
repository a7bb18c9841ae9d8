"""Create the spine tables: events, rejected events, item catalogue, features, KPIs, last access.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0001
Revises: None
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import JsonDocument, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("events", "rejected_events", "questions", "features_topic_daily", "weekly_kpi", "user_last_access")


def upgrade() -> None:
    if table_missing("events"):
        op.create_table(
            prefixed("events"),
            sa.Column("event_id", sa.String(96), primary_key=True),
            sa.Column("user_id", sa.BigInteger, nullable=False),
            sa.Column("verb", sa.String(32), nullable=False),
            sa.Column("object_id", sa.String(96)),
            sa.Column("question_id", sa.String(64)),
            sa.Column("topic_id", sa.String(64)),
            sa.Column("success", sa.Boolean),
            sa.Column("score", sa.Float),
            sa.Column("duration_s", sa.Float),
            sa.Column("occurred_at", UtcDateTime, nullable=False),
            sa.Column("event_date", sa.Date, nullable=False),
            sa.Column("source", sa.String(32), nullable=False),
            comment="Canonical learning events from every source, one daily partition per event_date.",
        )
        op.create_index(prefixed("ix_events_date_user"), prefixed("events"), ["event_date", "user_id"])
        op.create_index(prefixed("ix_events_user_time"), prefixed("events"), ["user_id", "occurred_at"])
    if table_missing("rejected_events"):
        op.create_table(
            prefixed("rejected_events"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("event_date", sa.Date, nullable=False),
            sa.Column("source", sa.String(32), nullable=False),
            sa.Column("source_ref", sa.String(96)),
            sa.Column("reason", sa.String(64), nullable=False),
            sa.Column("detail", sa.Text),
            sa.Column("raw", JsonDocument),
            sa.Column("rejected_at", UtcDateTime, nullable=False),
            comment="Source rows that could not become events, with the reason; never silently dropped.",
        )
        op.create_index(prefixed("ix_rejected_events_date"), prefixed("rejected_events"), ["event_date", "source"])
    if table_missing("questions"):
        op.create_table(
            prefixed("questions"),
            sa.Column("question_id", sa.String(64), primary_key=True),
            sa.Column("topic_id", sa.String(64)),
            sa.Column("source", sa.String(32), nullable=False),
            sa.Column("is_anchor", sa.Boolean, nullable=False),
            sa.Column("ref_a", sa.Float),
            sa.Column("ref_d", sa.Float),
            sa.Column("ref_b", sa.Float),
            sa.Column("ref_c", sa.Float),
            sa.Column("meta", JsonDocument),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            comment="Item catalogue: topic, anchor tag and reference IRT parameters per question.",
        )
    if table_missing("features_topic_daily"):
        op.create_table(
            prefixed("features_topic_daily"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("topic_id", sa.String(64), primary_key=True),
            sa.Column("date", sa.Date, primary_key=True),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("correct", sa.Integer, nullable=False),
            sa.Column("accuracy", sa.Float),
            sa.Column("mean_response_time_s", sa.Float),
            sa.Column("time_on_task_s", sa.Float, nullable=False),
            sa.Column("computed_at", UtcDateTime, nullable=False),
            comment="Per student, topic and day: attempts, accuracy, response time, time on task.",
        )
        op.create_index(prefixed("ix_features_topic_daily_date"), prefixed("features_topic_daily"), ["date"])
    if table_missing("weekly_kpi"):
        op.create_table(
            prefixed("weekly_kpi"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("week_start", sa.Date, primary_key=True),
            sa.Column("kpis", JsonDocument, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            comment="Per student and ISO week (Monday UTC): the KPIs of alt42_pipeline.core.kpis.",
        )
        op.create_index(prefixed("ix_weekly_kpi_week"), prefixed("weekly_kpi"), ["week_start"])
    if table_missing("user_last_access"):
        op.create_table(
            prefixed("user_last_access"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("course_id", sa.BigInteger, primary_key=True),
            sa.Column("last_access_at", UtcDateTime, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            comment="Moodle's last access of each student to each course.",
        )
        op.create_index(prefixed("ix_user_last_access_time"), prefixed("user_last_access"), ["last_access_at"])


def downgrade() -> None:
    drop_tables(*TABLES)
