"""The little every revision shares: the table prefix, prefixed names, create-if-missing.

Deliberately no table definitions here (see the rule in the package docstring): what a
revision creates is written out in the revision itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op


def prefix() -> str:
    """The table prefix of this run (``mdl_alt42_`` on Moodle deployments, else empty)."""
    return context.config.attributes.get("prefix", "")


def prefixed(base: str) -> str:
    """The physical name of a table, view, index or constraint given its base name."""
    return f"{prefix()}{base}"


def table_missing(base: str) -> bool:
    """True unless table ``base`` exists already.

    Revisions create a table and its indexes only when this is true, so they can run again
    over existing tables (an interrupted MySQL upgrade, whose DDL is not transactional, or
    tables that predate the version table) and leave those tables as they are.
    """
    return not sa.inspect(op.get_bind()).has_table(prefixed(base))


def drop_tables(*bases: str) -> None:
    """Drop those of the tables ``bases`` that exist, last first (their indexes go with them)."""
    for base in reversed(bases):
        if not table_missing(base):
            op.drop_table(prefixed(base))


def column_missing(base: str, column: str) -> bool:
    """True unless table ``base`` has ``column`` already (a revision that adds a column adds
    it only then, so it can run again over a table that has it)."""
    columns = sa.inspect(op.get_bind()).get_columns(prefixed(base))
    return column not in {c["name"] for c in columns}
