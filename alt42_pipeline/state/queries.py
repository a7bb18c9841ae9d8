"""The SQL of the state refresh: aggregates computed by the database, never row by row.

The heartbeat's functions take an open :class:`~alt42_pipeline.warehouse.Transaction` so
that the whole heartbeat (reads, consumption of events, writes) commits or rolls back as
one; :func:`latest_heartbeat` reads through a transaction or the warehouse alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from ..warehouse import Transaction, Warehouse

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


@dataclass(frozen=True)
class LatestHeartbeat:
    """The latest successful heartbeat: when, its id, its student errors and its details."""

    heartbeat_id: str
    timestamp: dt.datetime
    errors: int
    details: dict = field(default_factory=dict)

    @property
    def error_details(self) -> list[dict]:
        return self.details.get("error_details", [])


def latest_heartbeat(db: Warehouse | Transaction) -> LatestHeartbeat | None:
    """The latest successful heartbeat (None before the first)."""
    log = db.table("heartbeat_log")
    stmt = (
        sa.select(log.c.heartbeat_id, log.c.timestamp, log.c.errors, log.c.details)
        .where(log.c.success.is_(True))
        .order_by(log.c.timestamp.desc(), log.c.id.desc())
        .limit(1)
    )
    frame = db.read(stmt)
    if frame.empty:
        return None
    row = frame.iloc[0]
    return LatestHeartbeat(
        row.heartbeat_id, pd.Timestamp(row.timestamp).to_pydatetime(), int(row.errors), row.details or {}
    )


def previous_cache(tx: Transaction) -> pd.DataFrame:
    """The cache as it is, scenarios as their JSON text (decoded once per distinct value)."""
    cache = tx.table("student_state_cache")
    columns = [c for c in cache.c if c.name != "active_scenarios"]
    return tx.read(sa.select(*columns, sa.cast(cache.c.active_scenarios, sa.Text).label("active_scenarios")))


def abilities(tx: Transaction) -> pd.DataFrame:
    t = tx.table("mirt_ability")
    return tx.read(sa.select(t.c.user_id, t.c.theta, t.c.se.label("theta_se")))


def risk_scores(tx: Transaction, now: dt.datetime, max_age_days: int = 2) -> pd.DataFrame:
    """The drop-out risk scores of the latest scored day at most ``max_age_days`` old
    (user_id, probability, at_risk); empty when there is none (the rules decide)."""
    t = tx.table("student_risk")
    since = now.date() - dt.timedelta(days=max_age_days)
    latest = sa.select(sa.func.max(t.c.date)).where(t.c.date >= since, t.c.date <= now.date()).scalar_subquery()
    return tx.read(sa.select(t.c.user_id, t.c.probability, t.c.at_risk).where(t.c.date == latest))


def unprocessed_dates(tx: Transaction, since: dt.date | None) -> list[dt.date]:
    """Event days from ``since`` on whose events are not all in the processing log.

    Counting per day uses the (event_date, user_id) index; only those days are then
    anti-joined event by event.
    """
    events = tx.table("events")
    log = tx.table("event_processing_log")

    def per_day(table: sa.Table) -> dict[dt.date, int]:
        stmt = sa.select(table.c.event_date, sa.func.count()).group_by(table.c.event_date)
        if since is not None:
            stmt = stmt.where(table.c.event_date >= since)
        return {_as_date(d): n for d, n in tx.execute(stmt)}

    seen, logged = per_day(events), per_day(log)
    return sorted(d for d, n in seen.items() if logged.get(d) != n)


def bad_students(tx: Transaction, dates: list[dt.date], now: dt.datetime) -> pd.DataFrame:
    """Students with bad events on the days still to consume."""
    e = tx.table("events")
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


def new_events(tx: Transaction, dates: list[dt.date], skip_students: Iterable[int] = ()) -> pd.DataFrame:
    """The events of ``dates`` that no heartbeat has consumed, except those of ``skip_students``
    (students with bad data: their events wait until the data is fixed).

    The anti-join is limited to the log rows of the same days (a small hash join); an id
    logged under another day (an event whose time was corrected) is then dropped too.
    The new events are read before anything is written, never in one INSERT ... SELECT
    from the table being written (a plan that degrades badly on PostgreSQL).
    """
    columns = ["event_id", "user_id", "event_date", "occurred_at"]
    if not dates:
        return pd.DataFrame(columns=columns)
    e = tx.table("events")
    log = tx.table("event_processing_log")
    logged = sa.select(log.c.event_id).where(log.c.event_date.in_(dates)).subquery()
    stmt = (
        sa.select(*[e.c[c] for c in columns])
        .select_from(e.outerjoin(logged, logged.c.event_id == e.c.event_id))
        .where(logged.c.event_id.is_(None), e.c.event_date.in_(dates))
    )
    skip = sorted({int(u) for u in skip_students})
    if skip:
        stmt = stmt.where(e.c.user_id.not_in(_inlined(skip)))
    frame = tx.read(stmt)
    if len(frame) and tx.execute(sa.select(log.c.event_id).limit(1)).first() is not None:
        ids = frame["event_id"].tolist()
        elsewhere: set[str] = set()
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            elsewhere.update(tx.execute(sa.select(log.c.event_id).where(log.c.event_id.in_(chunk))).scalars())
        frame = frame[~frame["event_id"].isin(elsewhere)]
    return frame


def consume_events(tx: Transaction, events: pd.DataFrame, heartbeat_id: str, now: dt.datetime) -> int:
    """Record ``events`` as consumed by ``heartbeat_id`` (the log's key makes it once only)."""
    return tx.append("event_processing_log", events.assign(heartbeat_id=heartbeat_id, processed_at=now))


def consumed_by_student(events: pd.DataFrame) -> pd.DataFrame:
    """Consumed events per student: how many and the latest time."""
    grouped = events.groupby("user_id")["occurred_at"]
    return pd.DataFrame({"consumed": grouped.size(), "consumed_last_at": grouped.max()}).reset_index()


def expired_students(tx: Transaction, left_after: dt.datetime, left_until: dt.datetime) -> set[int]:
    """Students with events that left the recent window in ``(left_after, left_until]``."""
    e = tx.table("events")
    stmt = (
        sa.select(e.c.user_id)
        .distinct()
        .where(
            e.c.event_date >= left_after.date(),
            e.c.event_date <= left_until.date(),
            e.c.occurred_at > left_after,
            e.c.occurred_at <= left_until,
        )
    )
    return {int(u) for u in tx.execute(stmt).scalars()}


def window_activity(
    tx: Transaction, window_start: dt.datetime, now: dt.datetime, students: Iterable[int] | None = None
) -> pd.DataFrame:
    """Per student over the recent window: events, attempts, correct answers, active days,
    and invalid answers (bad data). ``students`` limits it to those user ids."""
    e = tx.table("events")
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
        ids = sorted(students)
        if not ids:
            return tx.read(stmt.where(sa.false()))
        stmt = stmt.where(e.c.user_id.in_(_inlined(ids)))
    return tx.read(stmt)


def _inlined(ids: list[int]) -> sa.BindParameter:
    """A list of ids rendered into the SQL: no bind-parameter limit, however many."""
    return sa.bindparam("ids", ids, expanding=True, literal_execute=True)


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value
