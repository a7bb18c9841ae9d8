"""The SQL of the state refresh: aggregates computed by the database, never row by row.

Every function takes an open :class:`~alt42_pipeline.warehouse.transaction.Transaction`
so that the whole heartbeat (reads, consumption of events, writes) commits or rolls back
as one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from ..warehouse.transaction import Transaction

#: An event stamped further than this in the future is bad data (clock skew allowance).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def invalid_answer(events: sa.Table) -> sa.ColumnElement[bool]:
    """An answer without a valid outcome (success and a score in [0, 1] are required)."""
    return sa.and_(
        events.c.verb == "answered",
        sa.or_(events.c.success.is_(None), events.c.score.is_(None), events.c.score < 0, events.c.score > 1),
    )


def future_event(events: sa.Table, now: dt.datetime) -> sa.ColumnElement[bool]:
    return events.c.occurred_at > now + FUTURE_TOLERANCE


def last_refresh(tx: Transaction) -> tuple[dt.datetime | None, dict]:
    """Time and details of the latest successful heartbeat (None, {} before the first)."""
    log = tx.warehouse.table("heartbeat_log")
    stmt = (
        sa.select(log.c.timestamp, log.c.details)
        .where(log.c.success.is_(True))
        .order_by(log.c.timestamp.desc())
        .limit(1)
    )
    row = tx.execute(stmt).first()
    return (row.timestamp, row.details or {}) if row else (None, {})


def previous_cache(tx: Transaction) -> pd.DataFrame:
    """The cache as it is, scenarios as their JSON text (decoded once per distinct value)."""
    cache = tx.warehouse.table("student_state_cache")
    columns = [c for c in cache.c if c.name != "active_scenarios"]
    return tx.read(sa.select(*columns, sa.cast(cache.c.active_scenarios, sa.Text).label("active_scenarios")))


def abilities(tx: Transaction) -> pd.DataFrame:
    t = tx.warehouse.table("mirt_ability")
    return tx.read(sa.select(t.c.user_id, t.c.theta, t.c.se.label("theta_se")))


def unprocessed_dates(tx: Transaction, since: dt.date | None) -> list[dt.date]:
    """Event days from ``since`` on whose events are not all in the processing log.

    Counting per day uses the (event_date, user_id) index; only those days are then
    anti-joined event by event.
    """
    events = tx.warehouse.table("events")
    log = tx.warehouse.table("event_processing_log")

    def per_day(table: sa.Table) -> dict[dt.date, int]:
        stmt = sa.select(table.c.event_date, sa.func.count()).group_by(table.c.event_date)
        if since is not None:
            stmt = stmt.where(table.c.event_date >= since)
        return {_as_date(d): n for d, n in tx.execute(stmt)}

    seen, logged = per_day(events), per_day(log)
    return sorted(d for d, n in seen.items() if logged.get(d) != n)


def bad_students(tx: Transaction, dates: list[dt.date], now: dt.datetime) -> pd.DataFrame:
    """Students with bad events on the days still to consume."""
    e = tx.warehouse.table("events")
    columns = ["user_id", "invalid_answers", "future_events"]
    if not dates:
        return pd.DataFrame(columns=columns)
    invalid, future = invalid_answer(e), future_event(e, now)
    stmt = (
        sa.select(
            e.c.user_id,
            sa.func.sum(sa.case((invalid, 1), else_=0)).label("invalid_answers"),
            sa.func.sum(sa.case((future, 1), else_=0)).label("future_events"),
        )
        .where(e.c.event_date.in_(dates), sa.or_(invalid, future))
        .group_by(e.c.user_id)
    )
    return tx.read(stmt)


def consume_events(
    tx: Transaction, dates: list[dt.date], heartbeat_id: str, now: dt.datetime, skip_students: Iterable[int] = ()
) -> int:
    """Record every not-yet-processed event of ``dates`` as consumed by ``heartbeat_id``.

    One INSERT ... SELECT in the database (no event travels to Python). The events of
    ``skip_students`` (students with bad data) stay unconsumed until the data is fixed.
    The log's primary key makes double consumption impossible.
    """
    if not dates:
        return 0
    e = tx.warehouse.table("events")
    log = tx.warehouse.table("event_processing_log")
    skip = sorted({int(u) for u in skip_students})
    # Inlined literals: no bind-parameter limit however many students are skipped.
    keep = e.c.user_id.not_in(sa.bindparam("skip", skip, expanding=True, literal_execute=True)) if skip else sa.true()
    select = (
        sa.select(
            e.c.event_id,
            e.c.user_id,
            e.c.event_date,
            e.c.occurred_at,
            sa.literal(heartbeat_id, sa.String(64)),
            sa.literal(now, log.c.processed_at.type),
        )
        .select_from(e.outerjoin(log, log.c.event_id == e.c.event_id))
        .where(log.c.event_id.is_(None), e.c.event_date.in_(dates), keep)
    )
    columns = ["event_id", "user_id", "event_date", "occurred_at", "heartbeat_id", "processed_at"]
    return tx.execute(sa.insert(log).from_select(columns, select)).rowcount


def consumed_by_student(tx: Transaction, heartbeat_id: str) -> pd.DataFrame:
    """What ``heartbeat_id`` consumed, per student: how many events and the latest time."""
    log = tx.warehouse.table("event_processing_log")
    stmt = (
        sa.select(
            log.c.user_id,
            sa.func.count().label("consumed"),
            sa.func.max(log.c.occurred_at).label("consumed_last_at"),
        )
        .where(log.c.heartbeat_id == heartbeat_id)
        .group_by(log.c.user_id)
    )
    return tx.read(stmt)


def touched_students(
    tx: Transaction, heartbeat_id: str, left_after: dt.datetime, left_until: dt.datetime
) -> sa.Select:
    """Students whose recent window changed since the last refresh: those with events
    consumed now, and those with events that left the window in ``(left_after, left_until]``."""
    e = tx.warehouse.table("events")
    log = tx.warehouse.table("event_processing_log")
    consumed = sa.select(log.c.user_id).where(log.c.heartbeat_id == heartbeat_id)
    expired = sa.select(e.c.user_id).where(
        e.c.event_date >= left_after.date(),
        e.c.event_date <= left_until.date(),
        e.c.occurred_at > left_after,
        e.c.occurred_at <= left_until,
    )
    return sa.union(consumed, expired)


def window_activity(
    tx: Transaction, window_start: dt.datetime, now: dt.datetime, students: sa.Select | None = None
) -> pd.DataFrame:
    """Per student over the recent window: events, attempts, correct answers, active days,
    and invalid answers (bad data). ``students`` limits it to a subquery of user ids."""
    e = tx.warehouse.table("events")
    answered = e.c.verb == "answered"
    stmt = (
        sa.select(
            e.c.user_id,
            sa.func.count().label("recent_events"),
            sa.func.sum(sa.case((answered, 1), else_=0)).label("recent_attempts"),
            sa.func.sum(sa.case((sa.and_(answered, e.c.success.is_(True)), 1), else_=0)).label("recent_correct"),
            sa.func.count(sa.distinct(e.c.event_date)).label("recent_active_days"),
            sa.func.max(e.c.occurred_at).label("window_last_at"),
            sa.func.sum(sa.case((invalid_answer(e), 1), else_=0)).label("invalid_answers"),
        )
        .where(
            e.c.event_date >= window_start.date(),
            e.c.occurred_at > window_start,
            e.c.occurred_at <= now + FUTURE_TOLERANCE,
        )
        .group_by(e.c.user_id)
    )
    if students is not None:
        stmt = stmt.where(e.c.user_id.in_(students))
    return tx.read(stmt)


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value
