"""The storage layer: every read and write of the warehouse goes through :class:`Warehouse`.

Writes are frame-at-a-time and transactional. ``replace`` deletes the rows a partition
owns and inserts the new ones in one transaction, so a re-run never duplicates and a
crash never leaves half a partition. On PostgreSQL rows go in with ``COPY`` (an order of
magnitude faster than INSERT); elsewhere with batched executemany.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
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


def utcnow() -> dt.datetime:
    """Now, as the naive UTC timestamp the warehouse stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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
        self.ensure_schema()
        table = self.table(base)
        with self.engine.begin() as conn:
            deleted = conn.execute(sa.delete(table).where(*self._clauses(table, where))).rowcount
            inserted = self._insert(conn, table, frame)
        log.debug("%s: replaced %s rows with %s", table.name, deleted, inserted)
        return inserted

    def append(self, base: str, frame: pd.DataFrame) -> int:
        self.ensure_schema()
        with self.engine.begin() as conn:
            return self._insert(conn, self.table(base), frame)

    def upsert(self, base: str, frame: pd.DataFrame) -> int:
        """Insert ``frame``, replacing rows with the same primary key (one transaction)."""
        self.ensure_schema()
        table = self.table(base)
        keys = [c.name for c in table.primary_key.columns]
        if frame.empty:
            return 0
        with self.engine.begin() as conn:
            if len(keys) == 1:
                values = frame[keys[0]].drop_duplicates().tolist()
                for i in range(0, len(values), 5_000):
                    conn.execute(sa.delete(table).where(table.c[keys[0]].in_(_py(values[i : i + 5_000]))))
            else:
                rows = frame[keys].drop_duplicates()
                for i in range(0, len(rows), 1_000):
                    chunk = rows.iloc[i : i + 1_000]
                    conn.execute(
                        sa.delete(table).where(
                            sa.tuple_(*[table.c[k] for k in keys]).in_(
                                [tuple(_py(r)) for r in chunk.itertuples(index=False)]
                            )
                        )
                    )
            return self._insert(conn, table, frame)

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
            result = conn.execute(stmt)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return frame

    def count(self, base: str, where: Where = None) -> int:
        self.ensure_schema()
        table = self.table(base)
        stmt = sa.select(sa.func.count()).select_from(table).where(*self._clauses(table, where))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

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
        if frame is None or frame.empty:
            return 0
        unknown = set(frame.columns) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table.name}: columns {sorted(unknown)} are not in the table")
        cols = [c for c in table.c.keys() if c in frame.columns]
        frame = naive_utc(frame[cols])
        total = 0
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS][cols]
            if conn.dialect.name == "postgresql":
                self._copy_chunk(conn, table, chunk)
            else:
                self._insert_chunk(conn, table, chunk)
            total += len(chunk)
        return total

    @staticmethod
    def _insert_chunk(conn: sa.Connection, table: sa.Table, chunk: pd.DataFrame) -> None:
        conn.execute(sa.insert(table), frame_records(chunk))

    @staticmethod
    def _copy_chunk(conn: sa.Connection, table: sa.Table, chunk: pd.DataFrame) -> None:
        out = chunk.copy()
        for name in out.columns:
            col_type = table.c[name].type
            if isinstance(col_type, JsonDocument):
                out[name] = out[name].map(_json_text)
            elif isinstance(col_type, sa.Boolean):
                out[name] = out[name].map(lambda v: None if _isnull(v) else ("t" if v else "f"))
        buf = io.StringIO()
        out.to_csv(buf, index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL)
        buf.seek(0)
        cols = ", ".join(f'"{c}"' for c in out.columns)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.copy_expert(
                f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')', buf
            )
        finally:
            cursor.close()


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
