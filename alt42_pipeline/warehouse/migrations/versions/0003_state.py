"""Create the state tables and their views.

``v_student_state`` is the legacy ``alt42_v_student_state``: the state cache with the
latest ability (from ``mirt_ability`` when a calibration has run, else the ability the
cache copied at its last refresh). ``student_activity`` is the legacy
``alt42_student_activity``: activity per student and day, read straight from the events.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from alt42_pipeline.warehouse.migrations.ops import create_domain_tables, drop_domain_tables, prefix

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

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
    create_domain_tables("state")
    p = prefix()
    for view, body in VIEWS.items():
        _create_view(f"{p}{view}", body.format(p=p))


def downgrade() -> None:
    p = prefix()
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {p}{view}")
    drop_domain_tables("state")
