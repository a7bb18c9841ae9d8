"""Create the state tables.

Revision ID: 0003
Revises: 0002
"""

from alt42_pipeline.warehouse.migrations.ops import create_domain_tables, drop_domain_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_domain_tables("state")


def downgrade() -> None:
    drop_domain_tables("state")
