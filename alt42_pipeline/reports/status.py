"""The operator's one screen: what the legacy health-check SQL answered, against the warehouse.

:func:`gather` reads a :class:`Status` from the warehouse (failed runs, read from the Dagster
instance by the caller, are handed in); :func:`format_status` turns it into plain text. The
``status`` subcommand of the CLI prints it. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from ..warehouse import Warehouse
from . import tables

DAY = dt.timedelta(days=1)


@dataclass
class Status:
    checked_at: dt.datetime
    warehouse: str  # URL without password
    window: dt.timedelta  # how far back "recent failures" look
    tables: pd.DataFrame  # table, rows, column, latest
    calibration: dict | None  # latest mirt_fit_meta row (calibration_id, backend, model_spec, at)
    fitted_last_day: dict[str, int]  # items, users fitted in the last 24 h; anchors in the catalogue
    heartbeat: dict | None  # latest heartbeat_log row; None: no row
    heartbeats_last_day: pd.DataFrame  # heartbeat_summary of the last 24 h
    states: pd.DataFrame  # state, students
    inactivity_last_day: int
    rejects: pd.DataFrame  # reason, rows within the window
    intervention_errors: int
    failed_runs: list[dict] | None
    catalogue_problems: pd.DataFrame  # problem, questions (kept in the catalogue, see spine.catalogue)
    ingest: dict[
        str, object
    ]  # day: latest ingested day, lines: its accounting per source  # job, run_id, partition, at; None: the Dagster instance was not consulted


def gather(
    wh: Warehouse, now: dt.datetime, failed_runs: list[dict] | None = None, window: dt.timedelta = 7 * DAY
) -> Status:
    """Everything the status screen shows, as of ``now`` (naive UTC)."""
    states = tables.read(wh, tables.STATES)
    beats = tables.read(wh, tables.HEARTBEATS, now - DAY, None)
    alerts = tables.read(wh, tables.INACTIVITY, now - DAY, None)
    errors = tables.read(wh, tables.INTERVENTION_ERRORS, now - window, None)
    rejects = tables.read(wh, tables.REJECTS, now - window, None)
    return Status(
        checked_at=now,
        warehouse=wh.engine.url.render_as_string(hide_password=True),
        window=window,
        tables=tables.freshness(wh),
        calibration=tables.latest(wh, tables.CALIBRATIONS),
        fitted_last_day=_fitted_since(wh, now - DAY),
        heartbeat=tables.latest(wh, tables.HEARTBEATS),
        heartbeats_last_day=tables.heartbeat_summary(beats),
        states=states.groupby("state").size().rename("students").reset_index(),
        inactivity_last_day=len(alerts),
        rejects=rejects.groupby("reason").size().rename("rows").reset_index().sort_values("rows", ascending=False),
        intervention_errors=len(errors),
        failed_runs=failed_runs,
        catalogue_problems=_catalogue_problems(wh),
        ingest=_latest_accounting(wh),
    )


def _catalogue_problems(wh: Warehouse) -> pd.DataFrame:
    problems = wh.read("catalogue_problems", columns=["problem", "question_id"])
    return problems.groupby("problem").size().rename("questions").reset_index()


def _latest_accounting(wh: Warehouse) -> dict[str, object]:
    """The accounting of the latest ingested day with source rows, one line per source
    (``spine.accounting``)."""
    from ..spine.accounting import accounting_text

    book = wh.read("ingest_accounting", columns=["event_date", "source", "kind", "rows"])
    if book.empty:
        return {"day": None, "lines": []}
    read = book[(book["kind"] == "read") & (book["rows"] > 0)]
    day = (read if len(read) else book)["event_date"].max()  # today's intraday run may have read nothing yet
    rows = book[book["event_date"] == day]
    lines = [
        accounting_text(src, dict(zip(part["kind"], part["rows"].astype(int)))) for src, part in rows.groupby("source")
    ]
    return {"day": day, "lines": lines}


def _fitted_since(wh: Warehouse, since: dt.datetime) -> dict[str, int]:
    """The legacy calibration health check: items and users fitted since, anchors known."""
    items, users = wh.table("mirt_item_params"), wh.table("mirt_ability")
    return {
        "items": wh.count("mirt_item_params", items.c.fitted_at >= since),
        "users": wh.count("mirt_ability", users.c.fitted_at >= since),
        "anchors": wh.count("questions", {"is_anchor": True}),
    }


# -- text ---------------------------------------------------------------------------------


def format_status(s: Status) -> str:
    lines = [
        f"ALT42 status at {s.checked_at:%Y-%m-%d %H:%M} UTC  (warehouse {s.warehouse})",
        "",
        f"{'table':28s} {'rows':>10s}  {'latest':16s}  {'age':>8s}  column",
    ]
    for row in s.tables.itertuples(index=False):
        latest = "" if pd.isna(row.latest) else f"{row.latest:%Y-%m-%d %H:%M}"
        age = "" if pd.isna(row.latest) else _age(s.checked_at - row.latest.to_pydatetime())
        lines.append(f"{row.table:28s} {row.rows:>10,d}  {latest:16s}  {age:>8s}  {row.column}")

    lines += ["", _calibration_text(s)]
    lines.append(
        f"  fitted in the last 24 h: {s.fitted_last_day['items']} items, {s.fitted_last_day['users']} users; "
        f"anchors in the catalogue: {s.fitted_last_day['anchors']}"
    )

    lines += ["", _heartbeat_text(s)]
    counts = ", ".join(f"{r.state} {r.students}" for r in s.states.itertuples(index=False)) or "no students yet"
    lines.append(f"Students per state: {counts}")

    lines += ["", _ingest_text(s)]

    days = _age(s.window)
    lines += ["", f"Recent failures (last {days}):"]
    rejected = ", ".join(f"{r.reason} {r.rows}" for r in s.rejects.itertuples(index=False))
    lines.append(f"  quarantined source rows: {int(s.rejects['rows'].sum())}" + (f" ({rejected})" if rejected else ""))
    lines.append(
        f"  intervention errors: {s.intervention_errors}; inactivity alerts in the last 24 h: {s.inactivity_last_day}"
    )
    if s.failed_runs is None:
        lines.append("  failed runs: Dagster instance not consulted (set DAGSTER_HOME)")
    else:
        lines.append(f"  failed runs: {len(s.failed_runs)}")
        for r in s.failed_runs:
            partition = f"  partition {r['partition']}" if r["partition"] else ""
            lines.append(f"    {r['at']:%Y-%m-%d %H:%M}  {r['job']}{partition}  run {r['run_id'][:8]}")
    return "\n".join(lines)


def _ingest_text(s: Status) -> str:
    day = s.ingest["day"]
    text = f"Source rows of the latest ingested day ({day}):" if day else "Source rows: no day ingested yet"
    for line in s.ingest["lines"]:
        text += f"\n  {line}"
    problems = ", ".join(f"{r.problem} {r.questions}" for r in s.catalogue_problems.itertuples(index=False))
    return text + f"\nCatalogue problems (questions kept, see catalogue_problems): {problems or 'none'}"


def _calibration_text(s: Status) -> str:
    cal = s.calibration
    if cal is None:
        return "Last calibration: none yet"
    spec = cal.get("model_spec") or {}
    at = pd.Timestamp(cal["at"]).to_pydatetime()
    return (
        f"Last calibration: {cal['calibration_id']} ({cal['backend']}) at {at:%Y-%m-%d %H:%M} UTC, "
        f"{_age(s.checked_at - at)} ago; {spec.get('items', '?')} items, {spec.get('users', '?')} users, "
        f"converged {spec.get('converged', '?')}\n  linking constants: {tables.linking_text(spec.get('linking_constants'))}"
    )


def _heartbeat_text(s: Status) -> str:
    if s.heartbeat is None:
        return "Last heartbeat: none yet"
    hb = s.heartbeat
    at = pd.Timestamp(hb["at"]).to_pydatetime()
    outcome = {True: "ok", False: "FAILED"}.get(None if pd.isna(hb["success"]) else bool(hb["success"]), "?")
    text = (
        f"Last heartbeat: {at:%Y-%m-%d %H:%M} UTC ({_age(s.checked_at - at)} ago) {outcome}, "
        f"{hb['students_processed']} students, errors {hb['errors']}, {hb['duration_ms']} ms"
    )
    day = s.heartbeats_last_day
    if len(day):
        text += f"\n  last 24 h: {int(day['runs'].iloc[0])} runs, {int(day['failed'].iloc[0])} failed, {int(day['errors'].iloc[0])} errors"
    return text


def _age(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 0:
        return "future"
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"
