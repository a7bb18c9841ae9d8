"""Create the spine tables.

Revision ID: 0001
Revises: None
"""

from alt42_pipeline.warehouse.migrations.ops import create_domain_tables, drop_domain_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_domain_tables("spine")


def downgrade() -> None:
    drop_domain_tables("spine")
