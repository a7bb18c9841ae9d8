"""Create the IRT tables: item parameters, calibration metadata, abilities.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import JsonDocument, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("mirt_item_params", "mirt_fit_meta", "mirt_ability")


def upgrade() -> None:
    if table_missing("mirt_item_params"):
        op.create_table(
            prefixed("mirt_item_params"),
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
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
            sa.Column("is_anchor", sa.Boolean, nullable=False),
            sa.Column("is_current", sa.Boolean, nullable=False),
            sa.Column("fitted_at", UtcDateTime, nullable=False),
            comment="Item parameters per calibration (history kept; is_current marks the latest).",
        )
        op.create_index(prefixed("ix_mirt_item_params_calibration"), prefixed("mirt_item_params"), ["calibration_id"])
        op.create_index(
            prefixed("ix_mirt_item_params_current"), prefixed("mirt_item_params"), ["is_current", "item_id"]
        )
    if table_missing("mirt_fit_meta"):
        op.create_table(
            prefixed("mirt_fit_meta"),
            sa.Column("calibration_id", sa.String(64), primary_key=True),
            sa.Column("run_id", sa.String(64)),
            sa.Column("backend", sa.String(32), nullable=False),
            sa.Column("model_spec", JsonDocument, nullable=False),
            sa.Column("fitted_at", UtcDateTime, nullable=False),
            comment="One row per calibration: model, convergence, fit and linking_constants.",
        )
        op.create_index(prefixed("ix_mirt_fit_meta_fitted_at"), prefixed("mirt_fit_meta"), ["fitted_at"])
    if table_missing("mirt_ability"):
        op.create_table(
            prefixed("mirt_ability"),
            sa.Column("user_id", sa.BigInteger, primary_key=True),
            sa.Column("theta", sa.Float, nullable=False),
            sa.Column("se", sa.Float),
            sa.Column("method", sa.String(8), nullable=False),
            sa.Column("calibration_id", sa.String(64)),
            sa.Column("run_id", sa.String(64)),
            sa.Column("fitted_at", UtcDateTime, nullable=False),
            comment="Current ability per student on the anchored scale.",
        )
        op.create_index(prefixed("ix_mirt_ability_fitted_at"), prefixed("mirt_ability"), ["fitted_at"])


def downgrade() -> None:
    drop_tables(*TABLES)
