"""Building blocks the migration scripts share."""

from __future__ import annotations

from alembic import context, op

from ..schema import build_schema


def prefix() -> str:
    return context.config.attributes.get("prefix", "")


def create_domain_tables(domain: str) -> None:
    """Create every table (and its indexes) of ``domain`` that does not exist yet."""
    bind = op.get_bind()
    for table in build_schema(prefix()).tables_of(domain):
        table.create(bind, checkfirst=True)


def drop_domain_tables(domain: str) -> None:
    bind = op.get_bind()
    for table in reversed(build_schema(prefix()).tables_of(domain)):
        table.drop(bind, checkfirst=True)
