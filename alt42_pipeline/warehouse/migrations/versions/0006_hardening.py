"""Exactly one current calibration, kept by the database; the weekly report per week.

* ``mirt_current_calibration``: one row naming the current calibration. A calibration's
  write transaction updates it first, which takes a row lock on every database (PostgreSQL,
  MariaDB/InnoDB; SQLite locks the whole file), so two calibrations that overlap take turns
  and the second one's ``is_current`` update sees the first one's rows.
* ``ux_mirt_item_params_current_item``: a partial unique index, one current row per item, on
  PostgreSQL and SQLite. MySQL/MariaDB have no partial index: there the lock row is the guard.
* ``weekly_reports``: the weekly report's HTML, Markdown summary and numbers per week.

Frozen: written out as the schema stood when this revision was made; never edit it (see
the rule in ``alt42_pipeline.warehouse.migrations``).

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from alt42_pipeline.warehouse.migrations.ops import drop_tables, prefixed, table_missing
from alt42_pipeline.warehouse.types import JsonDocument, UtcDateTime

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("mirt_current_calibration", "weekly_reports")
_PARTIAL = ("postgresql", "sqlite")
_LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _index_missing(table: str, index: str) -> bool:
    return index not in {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    bind = op.get_bind()
    if table_missing("mirt_current_calibration"):
        table = op.create_table(
            prefixed("mirt_current_calibration"),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("calibration_id", sa.String(64)),
            sa.Column("updated_at", UtcDateTime),
            sa.CheckConstraint("id = 1", name=prefixed("ck_mirt_current_calibration_one_row")),
            comment="One row: the current calibration. Writers update it first, so calibrations that "
            "overlap take turns (a row lock on every database).",
        )
        items = sa.table(prefixed("mirt_item_params"), sa.column("calibration_id"), sa.column("is_current"))
        current = bind.execute(sa.select(items.c.calibration_id).where(items.c.is_current).limit(1)).scalar()
        op.bulk_insert(table, [{"id": 1, "calibration_id": current, "updated_at": None}])
    index = prefixed("ux_mirt_item_params_current_item")
    if bind.dialect.name in _PARTIAL and _index_missing(prefixed("mirt_item_params"), index):
        _keep_only_the_latest_current_calibration()
        op.create_index(
            index,
            prefixed("mirt_item_params"),
            ["item_id"],
            unique=True,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
    if table_missing("weekly_reports"):
        op.create_table(
            prefixed("weekly_reports"),
            sa.Column("week_start", sa.Date, primary_key=True),
            sa.Column("title", sa.String(128), nullable=False),
            sa.Column("html", _LONG_TEXT, nullable=False),
            sa.Column("summary_md", sa.Text, nullable=False),
            sa.Column("numbers", JsonDocument, nullable=False),
            sa.Column("size_bytes", sa.Integer, nullable=False),
            sa.Column("run_id", sa.String(64)),
            sa.Column("generated_at", UtcDateTime, nullable=False),
            comment="The weekly report per ISO week (Monday): self-contained HTML, Markdown summary, headline numbers.",
        )


def _keep_only_the_latest_current_calibration() -> None:
    """A warehouse that two overlapping calibrations left with two current ones: keep the
    latest (by fitted_at, then calibration id) current, so the unique index can be built."""
    items = sa.table(
        prefixed("mirt_item_params"), sa.column("calibration_id"), sa.column("is_current"), sa.column("fitted_at")
    )
    bind = op.get_bind()
    latest = bind.execute(
        sa.select(items.c.calibration_id)
        .where(items.c.is_current)
        .order_by(items.c.fitted_at.desc(), items.c.calibration_id.desc())
        .limit(1)
    ).scalar()
    if latest is not None:
        bind.execute(
            sa.update(items).where(items.c.is_current, items.c.calibration_id != latest).values(is_current=False)
        )


def downgrade() -> None:
    bind = op.get_bind()
    index = prefixed("ux_mirt_item_params_current_item")
    if bind.dialect.name in _PARTIAL and not _index_missing(prefixed("mirt_item_params"), index):
        op.drop_index(index, table_name=prefixed("mirt_item_params"))
    drop_tables(*TABLES)
