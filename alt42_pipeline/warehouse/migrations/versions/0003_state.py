"""Create the state tables and their views.

``v_student_state`` is the legacy ``alt42_v_student_state``: the state cache with the
latest ability (from ``mirt_ability`` when a calibration has run, else the ability the
cache copied at its last refresh). ``student_activity`` is the legacy
``alt42_student_activity``: activity per student and day, read straight from the events.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefix, prefixed, table_missing
from alt42_pipeline.warehouse.types import JsonDocument, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = (
    "student_state_cache",
    "state_change_log",
    "scenario_evaluation_log",
    "event_processing_log",
    "heartbeat_log",
    "inactivity_alerts",
)

VIEWS = {
    "v_student_state": """
        SELECT c.user_id, c.state, c.since, c.last_activity_at, c.recent_accuracy,
               c.recent_attempts, COALESCE(a.theta, c.theta) AS theta,
               CASE WHEN a.user_id IS NULL THEN c.theta_se ELSE a.se END AS theta_se,
               a.fitted_at AS ability_fitted_at, c.active_scenarios, c.updated_at
        FROM {p}student_state_cache c
        LEFT JOIN {p}mirt_ability a ON a.user_id = c.user_id
    """,
    "student_activity": """
        SELECT user_id, event_date AS activity_date, COUNT(*) AS events,
               SUM(CASE WHEN verb = 'answered' THEN 1 ELSE 0 END) AS attempts,
               SUM(CASE WHEN verb = 'answered' AND success THEN 1 ELSE 0 END) AS correct,
               SUM(COALESCE(duration_s, 0)) AS time_on_task_s,
               MIN(occurred_at) AS first_activity_at, MAX(occurred_at) AS last_activity_at
        FROM {p}events
        GROUP BY user_id, event_date
    """,
}


def _create_view(name: str, body: str) -> None:
    # Re-runnable on every backend: PostgreSQL and MySQL replace, SQLite keeps the existing one.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE VIEW IF NOT EXISTS {name} AS {body}")
    else:
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")


def upgrade() -> None:
    if table_missing("student_state_cache"):
        op.create_table(
            prefixed("student_state_cache"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("since", UtcDateTime, nullable=False),
            sa.Column("last_activity_at", UtcDateTime),
            sa.Column("recent_accuracy", sa.Float),
            sa.Column("recent_attempts", sa.Integer, nullable=False),
            sa.Column("recent_events", sa.Integer, nullable=False, server_default="0"),
            sa.Column("recent_active_days", sa.Integer, nullable=False, server_default="0"),
            sa.Column("theta", sa.Float),
            sa.Column("theta_se", sa.Float),
            sa.Column("active_scenarios", JsonDocument),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            comment="Current state per student, refreshed by the heartbeat (updated_at: when the row last changed).",
        )
        op.create_index(prefixed("ix_student_state_cache_state"), prefixed("student_state_cache"), ["state"])
        op.create_index(
            prefixed("ix_student_state_cache_last_activity"), prefixed("student_state_cache"), ["last_activity_at"]
        )
    if table_missing("state_change_log"):
        op.create_table(
            prefixed("state_change_log"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("user_id", sa.BigInteger, nullable=False),
            sa.Column("from_state", sa.String(16)),
            sa.Column("to_state", sa.String(16), nullable=False),
            sa.Column("reason", sa.String(255), nullable=False),
            sa.Column("changed_at", UtcDateTime, nullable=False),
            sa.Column("heartbeat_id", sa.String(64), nullable=False),
            sa.Column("logged_at", UtcDateTime, nullable=False),
            comment="Every change of a student's state (from is empty when the student is first seen).",
        )
        op.create_index(prefixed("ix_state_change_log_user"), prefixed("state_change_log"), ["user_id", "changed_at"])
        op.create_index(prefixed("ix_state_change_log_logged_at"), prefixed("state_change_log"), ["logged_at"])
    if table_missing("scenario_evaluation_log"):
        op.create_table(
            prefixed("scenario_evaluation_log"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("user_id", sa.BigInteger, nullable=False),
            sa.Column("scenario", sa.String(64), nullable=False),
            sa.Column("rules_version", sa.Integer, nullable=False),
            sa.Column("inputs", JsonDocument, nullable=False),
            sa.Column("heartbeat_id", sa.String(64), nullable=False),
            sa.Column("evaluated_at", UtcDateTime, nullable=False),
            comment="Scenario rules that started firing for a student, with the rule version and inputs seen.",
        )
        op.create_index(
            prefixed("ix_scenario_evaluation_log_user"),
            prefixed("scenario_evaluation_log"),
            ["user_id", "evaluated_at"],
        )
        op.create_index(
            prefixed("ix_scenario_evaluation_log_scenario"),
            prefixed("scenario_evaluation_log"),
            ["scenario", "evaluated_at"],
        )
    if table_missing("event_processing_log"):
        op.create_table(
            prefixed("event_processing_log"),
            sa.Column("event_id", sa.String(96), primary_key=True),
            sa.Column("user_id", sa.BigInteger, nullable=False),
            sa.Column("event_date", sa.Date, nullable=False),
            sa.Column("occurred_at", UtcDateTime, nullable=False),
            sa.Column("heartbeat_id", sa.String(64), nullable=False),
            sa.Column("processed_at", UtcDateTime, nullable=False),
            comment="Events consumed by a heartbeat, each exactly once (the primary key guarantees it).",
        )
        op.create_index(prefixed("ix_event_processing_log_date"), prefixed("event_processing_log"), ["event_date"])
        op.create_index(
            prefixed("ix_event_processing_log_heartbeat"), prefixed("event_processing_log"), ["heartbeat_id"]
        )
    if table_missing("heartbeat_log"):
        op.create_table(
            prefixed("heartbeat_log"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
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
            comment="One row per heartbeat run: success, counts and duration (details: per-state counts, errors).",
        )
        op.create_index(prefixed("ix_heartbeat_log_timestamp"), prefixed("heartbeat_log"), ["success", "timestamp"])
    if table_missing("inactivity_alerts"):
        op.create_table(
            prefixed("inactivity_alerts"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("threshold_days", sa.Integer, primary_key=True),
            sa.Column("last_activity_at", UtcDateTime, primary_key=True),
            sa.Column("detected_at", UtcDateTime, nullable=False),
            sa.Column("notified_at", UtcDateTime),
            comment="A student crossing an inactivity threshold, once per crossing (the key is the crossing).",
        )
        op.create_index(prefixed("ix_inactivity_alerts_detected_at"), prefixed("inactivity_alerts"), ["detected_at"])

    p = prefix()
    for view, body in VIEWS.items():
        _create_view(f"{p}{view}", body.format(p=p))


def downgrade() -> None:
    p = prefix()
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {p}{view}")
    drop_tables(*TABLES)
