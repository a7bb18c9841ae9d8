"""Create the irt tables.

Revision ID: 0002
Revises: 0001
"""

from alt42_pipeline.warehouse.migrations.ops import create_domain_tables, drop_domain_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_domain_tables("irt")


def downgrade() -> None:
    drop_domain_tables("irt")
