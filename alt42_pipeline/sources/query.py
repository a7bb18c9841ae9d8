"""Run a source query into a DataFrame, using PostgreSQL's COPY when it is there.

Values come back as the database gives them (COPY gives text); the mapping to canonical
events parses and validates every column, so bad source values become rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..warehouse.store import copy_out


def read_frame(engine: sa.Engine, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    params = dict(params or {})
    if engine.dialect.name == "postgresql":
        return _copy_frame(engine, sql, params)
    with engine.connect() as conn:
        result = conn.execute(sa.text(sql), params)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _copy_frame(engine: sa.Engine, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    # psycopg2 binds %(name)s; the text() style :name is translated once here.
    compiled = (
        sa.text(sql).bindparams(**params).compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    )
    raw = engine.raw_connection()
    try:
        buf = copy_out(raw, str(compiled), compiled.params)
    finally:
        raw.close()
    # Types are inferred in C; a column holding a malformed value stays text and the
    # canonical mapping coerces it (the row is then rejected, not lost).
    return pd.read_csv(buf, keep_default_na=False, na_values=[""], low_memory=False)
