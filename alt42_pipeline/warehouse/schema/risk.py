"""Tables of the drop-out risk domain: the versioned models and the daily scores."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, UtcDateTime


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    sa.Table(
        name("risk_models"),
        md,
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
        sa.Index(name("ix_risk_models_promoted"), "promoted", "version"),
        comment="Every nightly risk model: its numbers, test metrics beside the rules', and whether it was promoted.",
    )
    sa.Table(
        name("student_risk"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("at_risk", sa.Boolean, nullable=False),
        sa.Column("reasons", JsonDocument),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("computed_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_student_risk_date"), "date"),
        comment="Per active student and day: calibrated drop-out probability, alert flag and top reasons.",
    )
