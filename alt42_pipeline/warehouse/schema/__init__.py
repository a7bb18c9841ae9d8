"""Today's warehouse schema, as the code reads and writes it.

Each domain module (``spine``, ``irt``, ``state``, ``interventions``, ``reports``, ``risk``) declares its tables
with SQLAlchemy Core under their *base* names; :func:`build_schema` applies the optional
table prefix (``mdl_alt42_`` on Moodle deployments) and returns a :class:`Schema` from
which code gets tables by base name: ``schema["weekly_kpi"]`` (``Warehouse.table`` and
``Transaction.table`` are the usual way in). The migrations (``../migrations``) build the
same tables with explicit, frozen operations; a test keeps the two equal.
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

from ..names import validate_prefix
from . import interventions, irt, reports, risk, spine, state

#: The domains whose tables the warehouse holds.
DOMAINS = (spine, irt, state, interventions, reports, risk)


class Schema:
    """All warehouse tables for one table prefix."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = validate_prefix(prefix)
        self.metadata = sa.MetaData()
        for domain in DOMAINS:
            domain.define(self.metadata, self.name)
        self._by_base = {full[len(self.prefix) :]: table for full, table in self.metadata.tables.items()}

    def name(self, base: str) -> str:
        """The physical name of a table, view or index given its base name."""
        return f"{self.prefix}{base}"

    def __getitem__(self, base: str) -> sa.Table:
        try:
            return self._by_base[base]
        except KeyError:
            raise KeyError(f"no warehouse table {base!r}; known: {sorted(self._by_base)}") from None

    @property
    def table_names(self) -> list[str]:
        return sorted(self._by_base)

    @property
    def view_names(self) -> list[str]:
        """Base names of the views the migrations create over these tables."""
        return sorted(view for domain in DOMAINS for view in getattr(domain, "VIEWS", ()))


@lru_cache(maxsize=16)
def build_schema(prefix: str = "") -> Schema:
    return Schema(prefix)
