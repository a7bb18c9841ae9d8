"""Tables of the student-state domain (the heartbeat's work)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, UtcDateTime

#: Views over the state tables (base names), created by the migrations (revision 0003).
VIEWS = ("v_student_state", "student_activity")


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    sa.Table(
        name("student_state_cache"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", UtcDateTime, nullable=False),
        sa.Column("last_activity_at", UtcDateTime),
        sa.Column("recent_accuracy", sa.Float),
        sa.Column("recent_attempts", sa.Integer, nullable=False, default=0),
        sa.Column("recent_events", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recent_active_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("theta", sa.Float),
        sa.Column("theta_se", sa.Float),
        sa.Column("active_scenarios", JsonDocument),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_student_state_cache_state"), "state"),
        sa.Index(name("ix_student_state_cache_last_activity"), "last_activity_at"),
        comment="Current state per student, refreshed by the heartbeat (updated_at: when the row last changed).",
    )
    sa.Table(
        name("state_change_log"),
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
        sa.Column("heartbeat_id", sa.String(64), nullable=False),
        sa.Column("logged_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_state_change_log_user"), "user_id", "changed_at"),
        sa.Index(name("ix_state_change_log_logged_at"), "logged_at"),
        comment="Every change of a student's state (from is empty when the student is first seen).",
    )
    sa.Table(
        name("scenario_evaluation_log"),
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("rules_version", sa.Integer, nullable=False),
        sa.Column("inputs", JsonDocument, nullable=False),
        sa.Column("heartbeat_id", sa.String(64), nullable=False),
        sa.Column("evaluated_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_scenario_evaluation_log_user"), "user_id", "evaluated_at"),
        sa.Index(name("ix_scenario_evaluation_log_scenario"), "scenario", "evaluated_at"),
        comment="Scenario rules that started firing for a student, with the rule version and inputs seen.",
    )
    sa.Table(
        name("event_processing_log"),
        md,
        sa.Column("event_id", sa.String(96), primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("heartbeat_id", sa.String(64), nullable=False),
        sa.Column("processed_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_event_processing_log_date"), "event_date"),
        sa.Index(name("ix_event_processing_log_heartbeat"), "heartbeat_id"),
        comment="Events consumed by a heartbeat, each exactly once (the primary key guarantees it).",
    )
    sa.Table(
        name("heartbeat_log"),
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("heartbeat_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("students_processed", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("events_consumed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state_changes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scenarios_fired", sa.Integer, nullable=False, server_default="0"),
        sa.Column("details", JsonDocument),
        # the run's JSON result in the legacy heartbeat's shape (what `alt42 heartbeat` prints)
        sa.Column("summary", JsonDocument),
        sa.Index(name("ix_heartbeat_log_timestamp"), "success", "timestamp"),
        comment="One row per heartbeat run: success, counts and duration (details: per-state counts, errors).",
    )
    sa.Table(
        name("inactivity_alerts"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("threshold_days", sa.Integer, primary_key=True),
        sa.Column("last_activity_at", UtcDateTime, primary_key=True),
        sa.Column("detected_at", UtcDateTime, nullable=False),
        sa.Column("notified_at", UtcDateTime),
        sa.Index(name("ix_inactivity_alerts_detected_at"), "detected_at"),
        comment="A student crossing an inactivity threshold, once per crossing (the key is the crossing).",
    )
