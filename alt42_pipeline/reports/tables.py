"""Reads of warehouse tables that the report and the status screen share, by canonical names.

Some tables belong to domains that may not be deployed yet (state, interventions). Each is
described once here by a :class:`Source`: its base name and, per canonical column, the
physical column names it may have. A missing table reads as ``None`` (the domain is not
there), a missing column as an all-null column; so a renamed column is a one-line fix here.
The weekly report and the status screen read through these, and share the summaries below.
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
    columns: dict[str, tuple[str, ...]]  # canonical name -> candidate physical names
    time: str | None = None  # the canonical column that orders rows in time


STATES = Source("student_state_cache", {"user_id": ("user_id",), "state": ("state",), "since": ("since",),
                                         "theta": ("theta",), "updated_at": ("updated_at",)}, time="updated_at")
STATE_CHANGES = Source("state_change_log", {
    "user_id": ("user_id", "student_id"),
    "from_state": ("from_state", "old_state", "previous_state", "state_from"),
    "to_state": ("to_state", "new_state", "state_to"),
    "reason": ("reason",),
    "at": ("changed_at", "created_at", "at", "timestamp"),
}, time="at")
HEARTBEATS = Source("heartbeat_log", {
    "at": ("timestamp", "created_at", "started_at", "run_at", "finished_at"),
    "success": ("success",),
    "students_processed": ("students_processed",),
    "errors": ("errors", "error_count"),
    "duration_ms": ("duration_ms",),
}, time="at")
INACTIVITY = Source("inactivity_alerts", {
    "user_id": ("user_id",),
    "threshold": ("threshold", "threshold_days", "threshold_hours", "threshold_minutes"),
    "last_activity_at": ("last_activity_at", "last_activity", "last_seen_at"),
    "at": ("detected_at", "created_at"),
}, time="at")
INTERVENTION_ERRORS = Source("intervention_errors", {
    "user_id": ("user_id",),
    "error": ("error", "message", "error_message"),
    "at": ("created_at", "failed_at", "occurred_at", "at"),
}, time="at")
REJECTS = Source("rejected_events", {"reason": ("reason",), "source": ("source",), "at": ("rejected_at",)}, time="at")
CALIBRATIONS = Source("mirt_fit_meta", {"calibration_id": ("calibration_id",), "backend": ("backend",),
                                         "model_spec": ("model_spec",), "at": ("fitted_at",)}, time="at")

#: Columns that say when a row was written, most telling first (freshness of a table).
FRESHNESS_COLUMNS = ("updated_at", "computed_at", "fitted_at", "rejected_at", "detected_at", "created_at",
                     "timestamp", "changed_at", "evaluated_at", "occurred_at")


def has(wh: Warehouse, table: str) -> bool:
    return table in wh.schema.table_names


def read(wh: Warehouse, source: Source, start: dt.datetime | None = None, end: dt.datetime | None = None) -> pd.DataFrame | None:
    """Rows of ``source`` (with ``start <= time < end`` when given), canonical column names;
    ``None`` when the table is not in this warehouse's schema."""
    return _read(wh, source, start, end)


def latest(wh: Warehouse, source: Source) -> dict | None:
    """The most recent row of ``source`` by its time column (``None``: no table or no rows)."""
    frame = _read(wh, source, newest_only=True)
    return None if frame is None or frame.empty else frame.iloc[0].to_dict()


def _read(wh: Warehouse, source: Source, start=None, end=None, newest_only: bool = False) -> pd.DataFrame | None:
    if not has(wh, source.table):
        return None
    table = wh.table(source.table)
    picked = {name: next((c for c in candidates if c in table.c), None) for name, candidates in source.columns.items()}
    present = {name: table.c[col] for name, col in picked.items() if col is not None}
    if not present:
        return pd.DataFrame(columns=list(picked))
    stmt = sa.select(*[col.label(name) for name, col in present.items()])
    time_col = present.get(source.time) if source.time else None
    if time_col is not None:
        if start is not None:
            stmt = stmt.where(time_col >= start)
        if end is not None:
            stmt = stmt.where(time_col < end)
        if newest_only:
            stmt = stmt.where(time_col.is_not(None)).order_by(time_col.desc()).limit(1)
    elif newest_only:
        return pd.DataFrame(columns=list(picked))
    frame = wh.read(stmt)
    for name in picked:
        if name not in frame.columns:
            frame[name] = None
    return frame[list(picked)]


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
    return pd.DataFrame([{
        "runs": len(heartbeats),
        "failed": int(failed.sum()),
        "students_processed": int(pd.to_numeric(heartbeats["students_processed"]).fillna(0).sum()),
        "errors": int(sum(_error_count(v) for v in heartbeats["errors"])),
        "mean_duration_ms": round(float(pd.to_numeric(heartbeats["duration_ms"]).mean()), 1) if heartbeats["duration_ms"].notna().any() else None,
    }])


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
