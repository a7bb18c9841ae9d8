"""Tables of the data spine: canonical events, rejects, item catalogue, features, KPIs."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, UtcDateTime


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    sa.Table(
        name("events"),
        md,
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
        sa.Column("raw_score", sa.Float),
        sa.Index(name("ix_events_date_user"), "event_date", "user_id"),
        sa.Index(name("ix_events_user_time"), "user_id", "occurred_at"),
        comment="Canonical learning events from every source, one daily partition per event_date.",
    )
    sa.Table(
        name("ingest_accounting"),
        md,
        sa.Column("event_date", sa.Date, primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        comment="Per ingested day and source: rows read = events + rejected + kept apart + updated.",
    )
    sa.Table(
        name("catalogue_problems"),
        md,
        sa.Column("question_id", sa.String(64), primary_key=True),
        sa.Column("problem", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        comment="Questions kept in the catalogue with a problem (bad meta, rejected anchor).",
    )
    sa.Table(
        name("rejected_events"),
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(96)),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("raw", JsonDocument),
        sa.Column("rejected_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_rejected_events_date"), "event_date", "source"),
        comment="Source rows that could not become events, with the reason; never silently dropped.",
    )
    sa.Table(
        name("questions"),
        md,
        sa.Column("question_id", sa.String(64), primary_key=True),
        sa.Column("topic_id", sa.String(64)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("is_anchor", sa.Boolean, nullable=False, default=False),
        sa.Column("ref_a", sa.Float),
        sa.Column("ref_d", sa.Float),
        sa.Column("ref_b", sa.Float),
        sa.Column("ref_c", sa.Float),
        sa.Column("meta", JsonDocument),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        comment="Item catalogue: topic, anchor tag and reference IRT parameters per question.",
    )
    sa.Table(
        name("features_topic_daily"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("topic_id", sa.String(64), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("correct", sa.Integer, nullable=False),
        sa.Column("accuracy", sa.Float),
        sa.Column("mean_response_time_s", sa.Float),
        sa.Column("time_on_task_s", sa.Float, nullable=False),
        sa.Column("computed_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_features_topic_daily_date"), "date"),
        comment="Per student, topic and day: attempts, accuracy, response time, time on task.",
    )
    sa.Table(
        name("weekly_kpi"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("week_start", sa.Date, primary_key=True),
        sa.Column("kpis", JsonDocument, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_weekly_kpi_week"), "week_start"),
        comment="Per student and ISO week (Monday UTC): the KPIs of alt42_pipeline.core.kpis.",
    )
    sa.Table(
        name("user_last_access"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("course_id", sa.BigInteger, primary_key=True),
        sa.Column("last_access_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_user_last_access_time"), "last_access_at"),
        comment="Moodle's last access of each student to each course.",
    )
