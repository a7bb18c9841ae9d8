"""Several reads and writes of the warehouse that commit together or not at all.

``with transaction(wh) as tx:`` opens one database transaction; ``tx.replace``,
``tx.append``, ``tx.delete_in``, ``tx.execute`` and ``tx.read`` all run inside it, with the
same write paths as :class:`~alt42_pipeline.warehouse.Warehouse` (COPY on PostgreSQL).
An exception inside the block rolls everything back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .store import Warehouse, Where
from .types import JsonDocument

DELETE_CHUNK = 5_000
_NUMERIC = (sa.Integer, sa.Float, sa.Numeric)


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
        if self.conn.dialect.name == "postgresql":
            return self._copy_read(statement)
        # SQLite: rows straight from the driver (SQLAlchemy's per-value result processing
        # dominated reads of 100k rows), then every non-numeric column typed as on the
        # COPY path (times and JSON arrive as their stored text).
        columns = list(statement.selected_columns)
        statement = statement.with_only_columns(
            *[c if isinstance(c.type, _NUMERIC) else sa.cast(c, sa.Text).label(c.name) for c in columns]
        )
        result = self.conn.execute(statement)
        frame = pd.DataFrame.from_records(result.cursor.fetchall(), columns=list(result.keys()))
        for column in columns:
            if not isinstance(column.type, _NUMERIC):
                frame[column.name] = _typed(frame[column.name], column.type)
        return frame

    def _copy_read(self, statement: sa.Select) -> pd.DataFrame:
        """PostgreSQL: COPY (query) TO STDOUT as CSV, typed column by column (several times
        faster than fetching rows for large results)."""
        compiled = statement.compile(dialect=self.conn.dialect, compile_kwargs={"render_postcompile": True})
        cursor = self.conn.connection.driver_connection.cursor()
        try:
            query = cursor.mogrify(str(compiled), compiled.params).decode()
            buffer = io.StringIO()
            cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", buffer)
        finally:
            cursor.close()
        buffer.seek(0)
        columns = list(statement.selected_columns)
        text = {i: str for i, c in enumerate(columns) if not isinstance(c.type, _NUMERIC)}
        frame = pd.read_csv(buffer, dtype=text, keep_default_na=False, na_values=[""])
        frame.columns = [c.name for c in columns]
        for column in columns:
            if not isinstance(column.type, _NUMERIC):
                frame[column.name] = _typed(frame[column.name], column.type)
        return frame


def _typed(values: pd.Series, column_type: sa.types.TypeEngine) -> pd.Series:
    """A non-numeric column read as text as the type it holds (NULL is missing;
    numbers are parsed before this)."""
    if isinstance(column_type, sa.DateTime):
        return pd.to_datetime(values, format="ISO8601")
    if isinstance(column_type, sa.Date):
        return pd.to_datetime(values, format="ISO8601").dt.date
    if isinstance(column_type, sa.Boolean):  # PostgreSQL's t/f, SQLite's 1/0 (as text)
        return values.map({"t": True, "f": False, "1": True, "0": False})
    if isinstance(column_type, JsonDocument):
        return values.map(lambda text: json.loads(text) if isinstance(text, str) else None)
    return values.astype(object).where(values.notna(), None)


@contextmanager
def transaction(warehouse: Warehouse) -> Iterator[Transaction]:
    warehouse.ensure_schema()
    with warehouse.engine.begin() as conn:
        yield Transaction(warehouse, conn)
