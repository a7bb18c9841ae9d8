"""Tables of the student-state domain (the heartbeat's work)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, UtcDateTime

DOMAIN = "state"


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
        sa.Column("theta", sa.Float),
        sa.Column("theta_se", sa.Float),
        sa.Column("active_scenarios", JsonDocument),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_student_state_cache_state"), "state"),
        sa.Index(name("ix_student_state_cache_last_activity"), "last_activity_at"),
        comment="Current state per student, refreshed by the heartbeat.",
    )
