"""Tables of the IRT domain (legacy names kept: existing readers keep working)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, UtcDateTime


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    sa.Table(
        name("mirt_item_params"),
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("calibration_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(8), nullable=False),
        sa.Column("a", sa.Float, nullable=False),
        sa.Column("d", sa.Float, nullable=False),
        sa.Column("b", sa.Float),
        sa.Column("c", sa.Float),
        sa.Column("se_a", sa.Float),
        sa.Column("se_d", sa.Float),
        sa.Column("se_b", sa.Float),
        sa.Column("se_c", sa.Float),
        sa.Column("n_responses", sa.Integer, nullable=False),
        sa.Column("is_anchor", sa.Boolean, nullable=False, default=False),
        sa.Column("is_current", sa.Boolean, nullable=False, default=True),
        sa.Column("fitted_at", UtcDateTime, nullable=False),
        # Partial-credit items (migration 0008): a = slope, b = location, d = -a * b; the rest here.
        sa.Column(
            "categories",
            JsonDocument,
            comment="Partial-credit items: model, n_categories, intercepts d and thresholds b, se_d, "
            "category score values.",
        ),
        sa.Index(name("ix_mirt_item_params_calibration"), "calibration_id"),
        sa.Index(name("ix_mirt_item_params_current"), "is_current", "item_id"),
        # At most one current row per item, in the database itself. Partial indexes exist on
        # PostgreSQL and SQLite; on MySQL/MariaDB the lock row below is the guard.
        sa.Index(
            name("ux_mirt_item_params_current_item"),
            "item_id",
            unique=True,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        ).ddl_if(dialect=("postgresql", "sqlite")),
        comment="Item parameters per calibration (history kept; is_current marks the latest).",
    )
    sa.Table(
        name("mirt_current_calibration"),
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("calibration_id", sa.String(64)),
        sa.Column("updated_at", UtcDateTime),
        sa.CheckConstraint("id = 1", name=name("ck_mirt_current_calibration_one_row")),
        comment="One row: the current calibration. Writers update it first, so calibrations that "
        "overlap take turns (a row lock on every database).",
    )
    sa.Table(
        name("mirt_fit_meta"),
        md,
        sa.Column("calibration_id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64)),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("model_spec", JsonDocument, nullable=False),
        sa.Column("fitted_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_mirt_fit_meta_fitted_at"), "fitted_at"),
        comment="One row per calibration: model, convergence, fit and linking_constants.",
    )
    sa.Table(
        name("mirt_ability"),
        md,
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("theta", sa.Float, nullable=False),
        sa.Column("se", sa.Float),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("calibration_id", sa.String(64)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("fitted_at", UtcDateTime, nullable=False),
        sa.Index(name("ix_mirt_ability_fitted_at"), "fitted_at"),
        comment="Current ability per student on the anchored scale.",
    )
    sa.Table(
        name("anchor_review"),
        md,
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("calibration_id", sa.String(64)),
        sa.Column("flagged_at", UtcDateTime, nullable=False),
        sa.Column("delta_b", sa.Float),
        sa.Column("z_b", sa.Float),
        sa.Column("p_value", sa.Float),
        sa.Column("reviewed_at", UtcDateTime),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("note", sa.String(500)),
        comment="Anchors found drifting: pending ones (and retired ones) are kept out of the linking until reviewed.",
    )
