"""The SQL of the state refresh: aggregates computed by the database, never row by row.

Every function takes an open :class:`~alt42_pipeline.warehouse.store.Transaction` so that
the whole heartbeat (reads, consumption of events, writes) commits or rolls back as one.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ..warehouse.store import Transaction

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


def bad_event(events: sa.Table, now: dt.datetime) -> sa.ColumnElement[bool]:
    """Events the state cannot trust: an invalid answer or a time in the future."""
    return sa.or_(invalid_answer(events), future_event(events, now))


def previous_cache(tx: Transaction) -> pd.DataFrame:
    return tx.read(sa.select(tx.warehouse.table("student_state_cache")))


def abilities(tx: Transaction) -> pd.DataFrame:
    t = tx.warehouse.table("mirt_ability")
    return tx.read(sa.select(t.c.user_id, t.c.theta, t.c.se.label("theta_se")))


def unprocessed_dates(tx: Transaction, since: dt.date | None) -> list[dt.date]:
    """Event days whose events are not all in the processing log (counts differ).

    Counting per day uses the (event_date, user_id) index; only those days are then
    anti-joined event by event, so a steady-state heartbeat touches a day or two.
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


def bad_students(tx: Transaction, dates: list[dt.date], window_start: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Students with bad events among the days to consume or in the recent window."""
    e = tx.warehouse.table("events")
    invalid, future = invalid_answer(e), future_event(e, now)
    stmt = (
        sa.select(
            e.c.user_id,
            sa.func.sum(sa.case((invalid, 1), else_=0)).label("invalid_answers"),
            sa.func.sum(sa.case((future, 1), else_=0)).label("future_events"),
        )
        .where(_scope(e, dates, window_start), sa.or_(invalid, future))
        .group_by(e.c.user_id)
    )
    return tx.read(stmt)


def window_activity(tx: Transaction, window_start: dt.datetime, now: dt.datetime) -> pd.DataFrame:
    """Per student over the recent window: events, attempts, correct answers, active days."""
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
        )
        .where(
            e.c.event_date >= window_start.date(),
            e.c.occurred_at > window_start,
            e.c.occurred_at <= now + FUTURE_TOLERANCE,
        )
        .group_by(e.c.user_id)
    )
    return tx.read(stmt)


def consume_events(
    tx: Transaction, dates: list[dt.date], window_start: dt.date, heartbeat_id: str, now: dt.datetime
) -> int:
    """Record every not-yet-processed event of ``dates`` as consumed by ``heartbeat_id``.

    One INSERT ... SELECT in the database (no event travels to Python). Students with bad
    data are left out entirely, so their events stay unconsumed until the data is fixed.
    The log's primary key makes double consumption impossible even if two runs raced.
    """
    if not dates:
        return 0
    e = tx.warehouse.table("events")
    log = tx.warehouse.table("event_processing_log")
    bad = sa.select(e.c.user_id).where(_scope(e, dates, window_start), bad_event(e, now))
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
        .where(log.c.event_id.is_(None), e.c.event_date.in_(dates), e.c.user_id.not_in(bad))
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


def _scope(events: sa.Table, dates: list[dt.date], window_start: dt.date) -> sa.ColumnElement[bool]:
    recent = events.c.event_date >= window_start
    return sa.or_(recent, events.c.event_date.in_(dates)) if dates else recent


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value
