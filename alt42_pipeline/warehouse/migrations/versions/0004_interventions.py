"""Create the interventions tables.

Revision ID: 0004
Revises: 0003
"""

from alt42_pipeline.warehouse.migrations.ops import create_domain_tables, drop_domain_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_domain_tables("interventions")


def downgrade() -> None:
    drop_domain_tables("interventions")
