"""The one place that knows the warehouse schema.

Each domain module (``spine``, ``irt``, ``state``, ``interventions``) declares its tables
with SQLAlchemy Core under their *base* names; :func:`build_schema` applies the optional
table prefix (``mdl_alt42_`` on Moodle deployments) and returns a :class:`Schema` from
which code gets tables by base name: ``schema["weekly_kpi"]`` (``Warehouse.table`` and
``Transaction.table`` are the usual way in).
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

from ..names import validate_prefix
from . import interventions, irt, spine, state

#: Domains in migration order; each migration creates the tables of one domain.
DOMAINS = {m.DOMAIN: m.define for m in (spine, irt, state, interventions)}


class Schema:
    """All warehouse tables for one table prefix."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = validate_prefix(prefix)
        self.metadata = sa.MetaData()
        self._domain_of: dict[str, str] = {}
        self._by_base: dict[str, sa.Table] = {}
        for domain, define in DOMAINS.items():
            before = set(self.metadata.tables)
            define(self.metadata, self.name)
            for full in sorted(set(self.metadata.tables) - before):
                base = full[len(self.prefix) :]
                self._by_base[base] = self.metadata.tables[full]
                self._domain_of[base] = domain

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

    def tables_of(self, domain: str) -> list[sa.Table]:
        return [t for base, t in self._by_base.items() if self._domain_of[base] == domain]


@lru_cache(maxsize=16)
def build_schema(prefix: str = "") -> Schema:
    return Schema(prefix)
