"""Several reads and writes of the warehouse that commit together or not at all.

``with transaction(wh) as tx:`` opens one database transaction; ``tx.replace``,
``tx.append``, ``tx.delete_in``, ``tx.execute`` and ``tx.read`` all run inside it, with the
same write paths as :class:`~alt42_pipeline.warehouse.Warehouse` (COPY on PostgreSQL).
An exception inside the block rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .store import Warehouse, Where

DELETE_CHUNK = 5_000


class Transaction:
    def __init__(self, warehouse: Warehouse, conn: sa.Connection) -> None:
        self.warehouse = warehouse
        self.conn = conn

    def replace(self, base: str, frame: pd.DataFrame, where: Where) -> int:
        table = self.warehouse.table(base)
        self.conn.execute(sa.delete(table).where(*Warehouse._clauses(table, where)))
        return self.append(base, frame)

    def append(self, base: str, frame: pd.DataFrame) -> int:
        return self.warehouse._insert(self.conn, self.warehouse.table(base), frame)

    def delete_in(self, base: str, column: str, values: Iterable[Any]) -> int:
        """Delete the rows whose ``column`` is one of ``values`` (in chunks)."""
        table = self.warehouse.table(base)
        values = [v.item() if hasattr(v, "item") else v for v in values]
        deleted = 0
        for start in range(0, len(values), DELETE_CHUNK):
            chunk = values[start : start + DELETE_CHUNK]
            deleted += self.conn.execute(sa.delete(table).where(table.c[column].in_(chunk))).rowcount
        return deleted

    def execute(self, statement: sa.Executable, params: Any = None) -> sa.CursorResult:
        return self.conn.execute(statement, params)

    def read(self, statement: sa.Select) -> pd.DataFrame:
        result = self.conn.execute(statement)
        rows = [tuple(row) for row in result.fetchall()]  # plain tuples: pandas builds these fast
        return pd.DataFrame.from_records(rows, columns=list(result.keys()))


@contextmanager
def transaction(warehouse: Warehouse) -> Iterator[Transaction]:
    warehouse.ensure_schema()
    with warehouse.engine.begin() as conn:
        yield Transaction(warehouse, conn)
