"""Add ``mirt_item_params.categories``: the partial-credit side of an item's parameters.

Polytomous items (GPCM, PCM, GRM) keep their one row per calibration, so history, the
``is_current`` flag and the one-current-row-per-item index work as before: ``a`` is the
slope, ``b`` the item's location (its average threshold) and ``d = -a * b``; the JSON
column holds the rest: ``model``, ``n_categories``, intercepts ``d`` and b-form thresholds
``b`` (lists), their standard errors ``se_d``, the canonical score ``values`` of each
category and what was ``collapsed`` into what.  NULL for calibrations of binary answers
only.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0008
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from alt42_pipeline.warehouse.migrations.ops import column_missing, prefixed
from alt42_pipeline.warehouse.types import JsonDocument

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

COMMENT = "Partial-credit items: model, n_categories, intercepts d and thresholds b, se_d, category score values."


def upgrade() -> None:
    if column_missing("mirt_item_params", "categories"):
        op.add_column(prefixed("mirt_item_params"), sa.Column("categories", JsonDocument, comment=COMMENT))


def downgrade() -> None:
    if not column_missing("mirt_item_params", "categories"):
        with op.batch_alter_table(prefixed("mirt_item_params")) as batch:
            batch.drop_column("categories")
