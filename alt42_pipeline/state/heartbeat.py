"""One heartbeat: consume new events, refresh every student's state, log what changed.

Incremental: a heartbeat consumes the events of the last two days that no heartbeat has
consumed yet, recomputes the recent-window metrics only of the students whose window
changed (new events, or events leaving the window), re-evaluates every student's state
and rules in memory, and writes only the cache rows that changed. The first heartbeat of
each UTC day (and the very first one, or one after a change of the window length) is a
full refresh: it looks for unconsumed events over the whole lookback and recomputes
every student's window, so late-arriving history is folded in within a day.

Everything a heartbeat writes (consumed events, the changed cache rows, state changes,
scenario firings, its heartbeat_log row) commits in one transaction. A run that fails
leaves nothing behind and its retry starts from the same place; a run retried after it
committed finds its events already consumed. A dry run does the same work inside a
transaction that is rolled back, so it computes exactly what a real run would.

A heartbeat's result is the legacy heartbeat's JSON (:meth:`HeartbeatSummary.legacy`):
``{success, timestamp, students_processed, errors, duration_ms, results}``, ``results``
holding the students per state, the state changes and the scenarios fired. The same document
is the ``summary`` of its ``heartbeat_log`` row, what ``alt42 heartbeat`` prints and the run's
metadata.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..clock import utcnow
from ..settings import StateSettings
from ..warehouse import Transaction, Warehouse
from . import machine, queries
from .refresh import Observations, refresh_state
from .rules import RuleSet

log = logging.getLogger(__name__)

#: At most this many per-student errors are kept in heartbeat_log.details (all are counted).
MAX_ERROR_DETAILS = 100
#: The keys of the legacy heartbeat's JSON result, in its order.
LEGACY_KEYS = ("success", "timestamp", "students_processed", "errors", "duration_ms", "results")
#: Errors listed in the legacy result's ``results.first_errors`` (heartbeat_log.details keeps more).
LEGACY_ERROR_DETAILS = 10


@dataclass(frozen=True)
class HeartbeatConfig:
    thresholds: machine.Thresholds = machine.Thresholds()
    window_days: int = 7
    lookback_days: int = 35
    #: Days (today included) an incremental heartbeat looks at for unconsumed events.
    recent_days: int = 2

    @classmethod
    def from_settings(cls, settings: StateSettings) -> HeartbeatConfig:
        return cls(
            thresholds=machine.Thresholds(settings.idle_after_days, settings.inactive_after_days),
            window_days=settings.recent_window_days,
            lookback_days=settings.lookback_days,
        )


@dataclass
class HeartbeatSummary:
    """The legacy heartbeat's JSON result, plus what this heartbeat consumed and changed."""

    heartbeat_id: str
    success: bool
    timestamp: dt.datetime
    students_processed: int = 0
    errors: int = 0
    duration_ms: float = 0.0
    events_consumed: int = 0
    state_changes: int = 0
    scenarios_fired: int = 0
    students_updated: int = 0
    full_refresh: bool = False
    dry_run: bool = False
    window_days: int | None = None
    states: dict[str, int] = field(default_factory=dict)
    error_details: list[dict] = field(default_factory=list)

    def legacy(self) -> dict[str, Any]:
        """The legacy heartbeat's JSON result: exactly :data:`LEGACY_KEYS`, plain JSON values.

        ``timestamp`` is ISO 8601 with its UTC offset and ``duration_ms`` milliseconds with two
        decimals, as ``heartbeat.php`` printed them; ``errors`` counts the students (or, for a
        failed heartbeat, the failure) in error, the first of which are in ``results``.
        """
        results = {
            "states": {state: int(self.states.get(state, 0)) for state in machine.STATES},
            "state_changes": self.state_changes,
            "scenarios_fired": self.scenarios_fired,
            "events_consumed": self.events_consumed,
            "students_updated": self.students_updated,
            "full_refresh": self.full_refresh,
            "dry_run": self.dry_run,
            "heartbeat_id": self.heartbeat_id,
            "first_errors": self.error_details[:LEGACY_ERROR_DETAILS],
        }
        values = (
            self.success,
            self.timestamp.replace(tzinfo=dt.UTC).isoformat(timespec="seconds"),
            self.students_processed,
            self.errors,
            round(float(self.duration_ms), 2),
            results,
        )
        return dict(zip(LEGACY_KEYS, values))

    def log_row(self, run_id: str | None) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "heartbeat_id": self.heartbeat_id,
                    "run_id": run_id,
                    "success": self.success,
                    "timestamp": self.timestamp,
                    "students_processed": self.students_processed,
                    "errors": self.errors,
                    "duration_ms": int(round(self.duration_ms)),
                    "events_consumed": self.events_consumed,
                    "state_changes": self.state_changes,
                    "scenarios_fired": self.scenarios_fired,
                    "details": {
                        "states": self.states,
                        "error_details": self.error_details,
                        "students_updated": self.students_updated,
                        "full_refresh": self.full_refresh,
                        "window_days": self.window_days,
                    },
                    "summary": self.legacy(),
                }
            ]
        )


class HeartbeatFailed(RuntimeError):
    """A heartbeat that could not complete; ``summary`` is its (failed) result, and the
    original exception is the cause."""

    def __init__(self, summary: HeartbeatSummary, cause: BaseException) -> None:
        super().__init__(f"heartbeat {summary.heartbeat_id} failed: {type(cause).__name__}: {cause}")
        self.summary = summary


class _RollBack(Exception):
    """Raised inside the transaction of a dry run so that nothing is committed."""


def run_heartbeat(
    wh: Warehouse,
    rules: RuleSet,
    config: HeartbeatConfig = HeartbeatConfig(),
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> HeartbeatSummary:
    """Run one heartbeat; raise :class:`HeartbeatFailed` (after logging a failed heartbeat,
    unless it is a dry run) if it cannot complete."""
    started = time.perf_counter()
    now = now or utcnow()
    summary = HeartbeatSummary(heartbeat_id=uuid.uuid4().hex, success=False, timestamp=now, dry_run=dry_run)
    try:
        with wh.transaction() as tx:
            _refresh(tx, rules, config, now, summary)
            summary.success = True
            summary.duration_ms = _ms_since(started)
            if dry_run:
                raise _RollBack
            tx.append("heartbeat_log", summary.log_row(run_id))
    except _RollBack:
        pass
    except Exception as exc:
        summary.success = False
        summary.duration_ms = _ms_since(started)
        summary.error_details = [{"user_id": None, "error": f"{type(exc).__name__}: {exc}"}]
        summary.errors = len(summary.error_details)
        if not dry_run:
            _record_failure(wh, summary, run_id)
        raise HeartbeatFailed(summary, exc) from exc
    log.info(
        "heartbeat %s: %d students, %d errors, %d events consumed, %d state changes in %.0f ms%s",
        summary.heartbeat_id,
        summary.students_processed,
        summary.errors,
        summary.events_consumed,
        summary.state_changes,
        summary.duration_ms,
        " (dry run, nothing written)" if dry_run else "",
    )
    return summary


def _refresh(
    tx: Transaction, rules: RuleSet, config: HeartbeatConfig, now: dt.datetime, summary: HeartbeatSummary
) -> None:
    window = dt.timedelta(days=config.window_days)
    previous = queries.previous_cache(tx)
    latest = queries.latest_heartbeat(tx)
    last, details = (latest.timestamp, latest.details) if latest else (None, {})
    full = (
        previous.empty
        or last is None
        or last.date() != now.date()
        or last > now
        or details.get("window_days") != config.window_days
    )
    if previous.empty:
        since = None  # the very first heartbeat consumes the whole history
    elif full:
        since = (now - dt.timedelta(days=config.lookback_days)).date()
    else:
        since = (now - dt.timedelta(days=config.recent_days - 1)).date()
    dates = queries.unprocessed_dates(tx, since)
    bad = queries.bad_students(tx, dates, now)
    fresh = queries.new_events(tx, dates, skip_students=bad["user_id"])
    summary.events_consumed = queries.consume_events(tx, fresh, summary.heartbeat_id, now)
    consumed = queries.consumed_by_student(fresh)
    touched = None if full else queries.expired_students(tx, last - window, now - window) | set(consumed["user_id"])
    obs = Observations(
        previous=previous,
        window=queries.window_activity(tx, now - window, now, touched),
        consumed=consumed,
        abilities=queries.abilities(tx),
        bad=bad,
        recomputed=None if touched is None else pd.Index(sorted(touched), dtype="int64"),
        risk=queries.risk_scores(tx, now),
    )
    result = refresh_state(obs, rules, now, config.thresholds, summary.heartbeat_id)
    if previous.empty or 2 * len(result.updated) > len(result.cache):
        tx.replace("student_state_cache", result.cache, where=None)
    elif len(result.updated):
        tx.delete_in("student_state_cache", "user_id", result.updated["user_id"])
        tx.append("student_state_cache", result.updated)
    tx.append("state_change_log", result.changes)
    tx.append("scenario_evaluation_log", result.evaluations)
    summary.full_refresh = full
    summary.window_days = config.window_days
    summary.students_processed = result.students_processed
    summary.students_updated = len(result.updated)
    summary.errors = len(result.errors)
    summary.error_details = result.errors[:MAX_ERROR_DETAILS]
    summary.state_changes = len(result.changes)
    summary.scenarios_fired = len(result.evaluations)
    summary.states = result.counts_by_state()


def _record_failure(wh: Warehouse, summary: HeartbeatSummary, run_id: str | None) -> None:
    try:
        wh.append("heartbeat_log", summary.log_row(run_id))
    except Exception as exc:  # the database may be what failed; the run fails either way
        log.warning("could not record the failed heartbeat %s: %s: %s", summary.heartbeat_id, type(exc).__name__, exc)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def slot_start(now: dt.datetime, minutes: int) -> dt.datetime:
    """The start of the ``minutes``-long slot of the day that contains ``now``."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = int((now - midnight).total_seconds() // 60)
    return midnight + dt.timedelta(minutes=elapsed - elapsed % minutes)
