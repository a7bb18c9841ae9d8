"""The storage layer: every read and write of the warehouse goes through :class:`Warehouse`.

Writes are frame-at-a-time and transactional. ``replace`` deletes the rows a partition
owns and inserts the new ones in one transaction, so a re-run never duplicates and a
crash never leaves half a partition. On PostgreSQL rows go in with ``COPY`` (an order of
magnitude faster than INSERT); elsewhere with batched executemany.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from . import migrate
from .schema import Schema, build_schema
from .types import JsonDocument

log = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
Where = Mapping[str, Any] | sa.ColumnElement[bool] | None


def make_engine(url: str) -> sa.Engine:
    """An engine with the settings each backend needs to behave under concurrent runs."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


@dataclass(frozen=True)
class KeyViolations:
    """What :meth:`Warehouse.key_violations` counted."""

    rows: int
    null_keys: int
    duplicate_keys: int


class Warehouse:
    """Tables of one warehouse (URL + table prefix) and the operations on them."""

    def __init__(self, url: str, prefix: str = "", *, engine: sa.Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.schema: Schema = build_schema(prefix)
        self._migrated = False

    # -- schema -----------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> str:
        """Apply pending migrations (harmless to repeat)."""
        rev = migrate.upgrade(self.engine, self.schema.prefix)
        self._migrated = True
        return rev

    def ensure_schema(self) -> None:
        if not self._migrated:
            self.migrate()

    def table(self, base: str) -> sa.Table:
        return self.schema[base]

    # -- writes -----------------------------------------------------------------------
    def replace(self, base: str, frame: pd.DataFrame, where: Where) -> int:
        """Delete the rows matching ``where`` and insert ``frame``, in one transaction.

        ``where`` is a mapping ``{column: value}`` (a list or tuple value means IN) or a
        SQLAlchemy boolean expression; ``None`` replaces the whole table.
        """
        return self.replace_many([(base, frame, where)])[base]

    def replace_many(self, writes: Sequence[tuple[str, pd.DataFrame, Where]]) -> dict[str, int]:
        """Several :meth:`replace` writes (e.g. a partition's events and its rejects) that
        succeed or fail together."""
        counts: dict[str, int] = {}
        with self.transaction() as tx:
            for base, frame, where in writes:
                counts[base] = counts.get(base, 0) + tx.replace(base, frame, where)
        return counts

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Writes that commit together or not at all::

        with wh.transaction() as tx:
            tx.execute(update(...)); tx.insert("t", frame); tx.replace("u", frame, {...})
        """
        self.ensure_schema()
        with self.engine.begin() as conn:
            yield Transaction(self, conn)

    def append(self, base: str, frame: pd.DataFrame) -> int:
        self.ensure_schema()
        with self.engine.begin() as conn:
            return self._insert(conn, self.table(base), frame)

    def execute(self, statement: sa.Executable, params: Any = None) -> sa.CursorResult:
        self.ensure_schema()
        with self.engine.begin() as conn:
            return conn.execute(statement, params)

    # -- reads ------------------------------------------------------------------------
    def read(self, what: str | sa.Select, where: Where = None, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """Read a table (by base name, optionally filtered) or a SELECT into a frame."""
        self.ensure_schema()
        if isinstance(what, str):
            table = self.table(what)
            cols = [table.c[c] for c in columns] if columns else [table]
            stmt = sa.select(*cols).where(*self._clauses(table, where))
        else:
            stmt = what
        with self.engine.connect() as conn:
            return fetch_frame(conn, stmt)

    def count(self, base: str, where: Where = None) -> int:
        self.ensure_schema()
        table = self.table(base)
        stmt = sa.select(sa.func.count()).select_from(table).where(*self._clauses(table, where))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def counts_by(self, base: str, column: str, where: Where = None) -> dict[Any, int]:
        """Rows per value of ``column`` among the rows matching ``where`` (values with no row
        are absent)."""
        self.ensure_schema()
        table = self.table(base)
        col = table.c[column]
        stmt = sa.select(col, sa.func.count()).where(*self._clauses(table, where)).group_by(col)
        with self.engine.connect() as conn:
            return {value: int(n) for value, n in conn.execute(stmt)}

    def key_violations(self, base: str, keys: Sequence[str], where: Where = None) -> KeyViolations:
        """Rows, rows with a null key column and rows beyond the first of each duplicated key,
        among the rows matching ``where``, counted by the database (no rows are fetched)."""
        self.ensure_schema()
        table = self.table(base)
        clauses = self._clauses(table, where)
        cols = [table.c[k] for k in keys]
        any_null = sa.or_(*[c.is_(None) for c in cols])
        groups = (
            sa.select(sa.func.count().label("n"))
            .select_from(table)
            .where(*clauses)
            .group_by(*cols)
            .having(sa.func.count() > 1)
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(table).where(*clauses)).scalar_one()
            nulls = conn.execute(sa.select(sa.func.count()).select_from(table).where(*clauses, any_null)).scalar_one()
            extra = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(groups.c.n - 1), 0))).scalar_one()
        return KeyViolations(rows=int(rows), null_keys=int(nulls), duplicate_keys=int(extra))

    def scalar(self, statement: sa.Select) -> Any:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    # -- internals --------------------------------------------------------------------
    @staticmethod
    def _clauses(table: sa.Table, where: Where) -> list[sa.ColumnElement[bool]]:
        if where is None:
            return []
        if isinstance(where, Mapping):
            out = []
            for col, value in where.items():
                if isinstance(value, (list, tuple, set, frozenset)):
                    out.append(table.c[col].in_(_py(list(value))))
                else:
                    out.append(table.c[col] == _scalar(value))
            return out
        return [where]

    def _insert(self, conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        return insert_frame(conn, table, frame)


class Transaction:
    """The write operations of :class:`Warehouse`, inside one open transaction."""

    def __init__(self, warehouse: Warehouse, conn: sa.Connection) -> None:
        self.warehouse = warehouse
        self.conn = conn

    def table(self, base: str) -> sa.Table:
        return self.warehouse.table(base)

    def execute(self, statement: sa.Executable, params: Any = None) -> sa.CursorResult:
        return self.conn.execute(statement, params)

    def insert(self, base: str, frame: pd.DataFrame) -> int:
        return insert_frame(self.conn, self.table(base), frame)

    append = insert

    def read(self, stmt: sa.Select) -> pd.DataFrame:
        """A SELECT inside the transaction (sees its own uncommitted writes)."""
        return fetch_frame(self.conn, stmt)

    def delete(self, base: str, where: Where) -> int:
        table = self.table(base)
        return self.conn.execute(sa.delete(table).where(*Warehouse._clauses(table, where))).rowcount

    def delete_in(self, base: str, column: str, values: Iterable[Any], chunk: int = 5_000) -> int:
        """Delete the rows whose ``column`` is one of ``values`` (in chunks of ``chunk``)."""
        values = _py(list(values))
        return sum(self.delete(base, {column: values[i : i + chunk]}) for i in range(0, len(values), chunk))

    def replace(self, base: str, frame: pd.DataFrame, where: Where) -> int:
        self.delete(base, where)
        return self.insert(base, frame)


def insert_frame(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Insert ``frame`` into ``table`` inside the caller's transaction (COPY on PostgreSQL)."""
    if frame is None or frame.empty:
        return 0
    unknown = set(frame.columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name}: columns {sorted(unknown)} are not in the table")
    cols = [c for c in table.c.keys() if c in frame.columns]
    frame = naive_utc(frame[cols])
    write = copy_chunk if conn.dialect.name == "postgresql" else insert_chunk
    for start in range(0, len(frame), CHUNK_ROWS):
        write(conn, table, frame.iloc[start : start + CHUNK_ROWS])
    return len(frame)


def insert_chunk(conn: sa.Connection, table: sa.Table, chunk: pd.DataFrame) -> None:
    """Rows of ``chunk`` into ``table`` with a batched INSERT, in the caller's transaction."""
    conn.execute(sa.insert(table), frame_records(chunk))


def copy_chunk(conn: sa.Connection, table: sa.Table, chunk: pd.DataFrame) -> None:
    """Rows of ``chunk`` into ``table`` with PostgreSQL's COPY, in the caller's transaction.

    The CSV is written by Arrow (several times faster than pandas' writer); strings are
    quoted and missing values left empty, which COPY's CSV format reads as NULL.
    """
    out = chunk.copy()
    for name in out.columns:
        if isinstance(table.c[name].type, JsonDocument):
            out[name] = out[name].map(_json_text)
    arrow = pa.Table.from_pandas(out, preserve_index=False)
    buf = io.BytesIO()
    pacsv.write_csv(arrow, buf, write_options=pacsv.WriteOptions(include_header=False))
    buf.seek(0)
    cols = ", ".join(f'"{c}"' for c in out.columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv)', buf)
    finally:
        cursor.close()


def copy_out(dbapi_conn, query: str, params: Mapping[str, Any]) -> io.BytesIO:
    """``COPY (query) TO STDOUT`` as CSV with a header, into a buffer positioned at its start.

    ``query`` uses the driver's ``%(name)s`` parameters; psycopg2 binds them client-side."""
    cur = dbapi_conn.cursor()
    try:
        bound = cur.mogrify(query, params).decode()
        buf = io.BytesIO()
        cur.copy_expert(f"COPY ({bound}) TO STDOUT WITH (FORMAT csv, HEADER true)", buf)
    finally:
        cur.close()
    buf.seek(0)
    return buf


def copy_read(dbapi_conn, dialect: sa.Dialect, stmt: sa.Select) -> pd.DataFrame:
    """Large reads on PostgreSQL: COPY (query) TO STDOUT, parsed by Arrow with the column
    types of the statement (several times faster than fetching rows)."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    buf = copy_out(dbapi_conn, str(compiled), compiled.params)
    names = [c.name for c in stmt.selected_columns]
    types = {c.name: _arrow_type(c.type) for c in stmt.selected_columns}
    table = pacsv.read_csv(
        buf,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            true_values=["t"],
            false_values=["f"],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    frame = table.to_pandas()
    for col in stmt.selected_columns:
        if isinstance(col.type, JsonDocument):
            frame[col.name] = frame[col.name].map(lambda v: None if _isnull(v) else json.loads(v)).astype(object)
        elif isinstance(col.type, (sa.Boolean, sa.Date)):
            frame[col.name] = frame[col.name].astype(object).where(frame[col.name].notna(), None)
    return frame


def fetch_frame(conn: sa.Connection, stmt: sa.Select) -> pd.DataFrame:
    """A SELECT into a frame on the given connection (COPY on PostgreSQL)."""
    if conn.dialect.name == "postgresql" and isinstance(stmt, sa.Select):
        return copy_read(conn.connection.driver_connection, conn.dialect, stmt)
    result = conn.execute(stmt)
    # plain tuples: pandas builds frames from Row objects about 10x slower
    return pd.DataFrame([tuple(r) for r in result.fetchall()], columns=list(result.keys()))


def _arrow_type(col_type: sa.types.TypeEngine) -> pa.DataType:
    """The Arrow type COPY's text of a column is parsed into."""
    if isinstance(col_type, JsonDocument):
        return pa.string()
    if isinstance(col_type, sa.types.TypeDecorator):
        col_type = col_type.impl_instance
    if isinstance(col_type, sa.Boolean):
        return pa.bool_()
    if isinstance(col_type, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(col_type, sa.Date):
        return pa.date32()
    if isinstance(col_type, sa.Integer):
        return pa.int64()
    if isinstance(col_type, (sa.Float, sa.Numeric)):
        return pa.float64()
    return pa.string()


def _isnull(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or value is pd.NA


def _json_text(value: Any) -> Any:
    if _isnull(value):
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _scalar(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _py(values: Iterable[Any]) -> list[Any]:
    return [_scalar(v) for v in values]


def naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every tz-aware datetime column converted to naive UTC."""
    aware = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return frame
    frame = frame.copy()
    for name in aware:
        frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of plain Python values, missing values as None."""
    data = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            values = [None if pd.isna(v) else v.to_pydatetime() for v in col]
        else:
            values = [None if _isnull(v) else _scalar(v) for v in col.astype(object)]
        data[name] = values
    keys = list(data)
    return [dict(zip(keys, row)) for row in zip(*data.values())]
