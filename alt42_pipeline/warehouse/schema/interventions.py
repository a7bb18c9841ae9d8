"""Tables of the interventions domain: batch schedules, interventions and their errors."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, UtcDateTime

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    sa.Table(
        name("batch_schedules"),
        md,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("minute", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, default="UTC"),
        sa.Column("is_active", sa.Boolean, nullable=False, default=True),
        sa.Column("target", sa.String(64), nullable=False, default="interventions"),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("name", name=name("uq_batch_schedules_name")),
        comment="Batch schedules edited by users (daily, weekly = Sunday, monthly = the 1st).",
        # ids are part of run keys: never reuse the id of a deleted schedule
        sqlite_autoincrement=True,
    )
    sa.Table(
        name("interventions"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("recommendation", sa.String(48), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("details", JsonDocument),
        sa.Column("recommender", sa.String(64), nullable=False),
        sa.Column("recommender_version", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_interventions_date"), "date"),
        comment="One recommendation per student and day (the primary key forbids duplicates).",
    )
    sa.Table(
        name("intervention_errors"),
        md,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("error_type", sa.String(128), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_intervention_errors_date_user"), "date", "user_id"),
        comment="A student the intervention batch could not process, and why.",
    )
