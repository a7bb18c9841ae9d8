"""Reads of warehouse tables that the report and the status screen share, by canonical names.

Each table is described once here by a :class:`Source`: its name and, per canonical column,
the column that holds it. The weekly report and the status screen read through these, and
share the summaries below.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from ..warehouse import Warehouse


@dataclass(frozen=True)
class Source:
    table: str
    columns: dict[str, str]  # canonical name -> column of the table
    time: str | None = None  # the canonical column that orders rows in time


STATES = Source(
    "student_state_cache",
    {"user_id": "user_id", "state": "state", "since": "since", "theta": "theta", "updated_at": "updated_at"},
    time="updated_at",
)
STATE_CHANGES = Source(
    "state_change_log",
    {"user_id": "user_id", "from_state": "from_state", "to_state": "to_state", "reason": "reason", "at": "changed_at"},
    time="at",
)
HEARTBEATS = Source(
    "heartbeat_log",
    {
        "at": "timestamp",
        "success": "success",
        "students_processed": "students_processed",
        "errors": "errors",
        "duration_ms": "duration_ms",
    },
    time="at",
)
INACTIVITY = Source(
    "inactivity_alerts",
    {"user_id": "user_id", "threshold": "threshold_days", "last_activity_at": "last_activity_at", "at": "detected_at"},
    time="at",
)
INTERVENTION_ERRORS = Source(
    "intervention_errors", {"user_id": "user_id", "error": "message", "at": "created_at"}, time="at"
)
REJECTS = Source("rejected_events", {"reason": "reason", "source": "source", "at": "rejected_at"}, time="at")
CALIBRATIONS = Source(
    "mirt_fit_meta",
    {"calibration_id": "calibration_id", "backend": "backend", "model_spec": "model_spec", "at": "fitted_at"},
    time="at",
)

#: Columns that say when a row was written, most telling first (freshness of a table).
FRESHNESS_COLUMNS = (
    "updated_at",
    "computed_at",
    "fitted_at",
    "rejected_at",
    "detected_at",
    "created_at",
    "timestamp",
    "changed_at",
    "evaluated_at",
    "occurred_at",
)


def read(
    wh: Warehouse, source: Source, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> pd.DataFrame:
    """Rows of ``source`` (with ``start <= time < end`` when given), canonical column names."""
    return _read(wh, source, start, end)


def latest(wh: Warehouse, source: Source) -> dict | None:
    """The most recent row of ``source`` by its time column (``None``: no rows)."""
    frame = _read(wh, source, newest_only=True)
    return None if frame.empty else frame.iloc[0].to_dict()


def _read(wh: Warehouse, source: Source, start=None, end=None, newest_only: bool = False) -> pd.DataFrame:
    table = wh.table(source.table)
    stmt = sa.select(*[table.c[column].label(name) for name, column in source.columns.items()])
    if source.time is not None:
        time_col = table.c[source.columns[source.time]]
        if start is not None:
            stmt = stmt.where(time_col >= start)
        if end is not None:
            stmt = stmt.where(time_col < end)
        if newest_only:
            stmt = stmt.where(time_col.is_not(None)).order_by(time_col.desc()).limit(1)
    return wh.read(stmt)


def freshness(wh: Warehouse) -> pd.DataFrame:
    """Per warehouse table: rows, the column telling when rows were written, its latest value."""
    rows = []
    for base in wh.schema.table_names:
        table = wh.table(base)
        column = next((c for c in FRESHNESS_COLUMNS if c in table.c), None)
        last = wh.scalar(sa.select(sa.func.max(table.c[column]))) if column else None
        rows.append({"table": base, "rows": wh.count(base), "column": column or "", "latest": last})
    frame = pd.DataFrame(rows, columns=["table", "rows", "column", "latest"])
    frame["latest"] = pd.to_datetime(frame["latest"])
    return frame


def heartbeat_summary(heartbeats: pd.DataFrame) -> pd.DataFrame:
    """One row: heartbeat runs, failed runs, students processed, errors, mean duration."""
    if heartbeats.empty:
        return pd.DataFrame()
    failed = ~heartbeats["success"].astype("boolean").fillna(True)  # unknown outcome: not counted as failed
    return pd.DataFrame(
        [
            {
                "runs": len(heartbeats),
                "failed": int(failed.sum()),
                "students_processed": int(pd.to_numeric(heartbeats["students_processed"]).fillna(0).sum()),
                "errors": int(sum(_error_count(v) for v in heartbeats["errors"])),
                "mean_duration_ms": round(float(pd.to_numeric(heartbeats["duration_ms"]).mean()), 1)
                if heartbeats["duration_ms"].notna().any()
                else None,
            }
        ]
    )


def _error_count(value) -> int:
    """The heartbeat's ``errors``: a count, or the list of errors as the legacy JSON had it."""
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    number = pd.to_numeric(value, errors="coerce")
    return 0 if pd.isna(number) else int(number)


def linking_text(linking: dict | None) -> str:
    """Linking constants as one line, slope and intercept first (JSON columns do not keep
    key order: JSONB sorts by length, the text column alphabetically)."""
    if not linking:
        return "none"
    first = [k for k in ("slope", "intercept") if k in linking]
    keys = first + sorted(k for k in linking if k not in first)
    return ", ".join(f"{k}={round(linking[k], 4) if isinstance(linking[k], float) else linking[k]}" for k in keys)
