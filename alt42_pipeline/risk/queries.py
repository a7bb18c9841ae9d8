"""The per-student-per-day table and first topic days, from canonical events.

The warehouse aggregates (``GROUP BY user_id, event_date``), so a night reads one row per
student and active day rather than every event; :func:`daily_from_events` is the same
aggregation over an events frame (tests, benchmarks, the demo's truth).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ..spine.events import ANSWERED
from .daily import DAILY_COLUMNS, TOPIC_COLUMNS

#: The verb of a new session (a login); Moodle logs one per session.
SESSION_VERB = "logged_in"


def daily_from_events(events: pd.DataFrame) -> pd.DataFrame:
    """The daily table (:data:`.daily.DAILY_COLUMNS`) of an events frame."""
    if events.empty:
        return pd.DataFrame(columns=DAILY_COLUMNS)
    date = pd.to_datetime(events["occurred_at"]).dt.normalize() if "event_date" not in events else events["event_date"]
    answered = events["verb"] == ANSWERED
    frame = pd.DataFrame(
        {
            "user_id": events["user_id"].astype("int64"),
            "date": pd.to_datetime(date).dt.date,
            "events": 1,
            "sessions": (events["verb"] == SESSION_VERB).astype(int),
            "answers": answered.astype(int),
            "correct": (answered & events["success"].fillna(False).astype(bool)).astype(int),
            "answer_time_s": events["duration_s"].where(answered, 0.0).fillna(0.0),
        }
    )
    return frame.groupby(["user_id", "date"], as_index=False).sum()[DAILY_COLUMNS]


def topics_from_events(events: pd.DataFrame) -> pd.DataFrame:
    ans = events[(events["verb"] == ANSWERED) & events["topic_id"].notna()]
    if ans.empty:
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    first = ans.assign(first_date=pd.to_datetime(ans["occurred_at"]).dt.date)
    return first.groupby(["user_id", "topic_id"], as_index=False)["first_date"].min()[TOPIC_COLUMNS]


def read_daily(wh, first_day: dt.date, last_day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The daily table over ``[first_day, last_day]`` and every student's first day per topic
    (up to ``last_day``), aggregated by the database."""
    ev = wh.table("events")
    answered = ev.c.verb == ANSWERED
    one = sa.literal(1)
    in_range = sa.and_(ev.c.event_date >= first_day, ev.c.event_date <= last_day)
    daily = (
        sa.select(
            ev.c.user_id,
            ev.c.event_date.label("date"),
            sa.func.count().label("events"),
            sa.func.sum(sa.case((ev.c.verb == SESSION_VERB, one), else_=0)).label("sessions"),
            sa.func.sum(sa.case((answered, one), else_=0)).label("answers"),
            sa.func.sum(sa.case((sa.and_(answered, ev.c.success.is_(True)), one), else_=0)).label("correct"),
            sa.func.sum(sa.case((answered, sa.func.coalesce(ev.c.duration_s, 0.0)), else_=0.0)).label("answer_time_s"),
        )
        .where(in_range)
        .group_by(ev.c.user_id, ev.c.event_date)
    )
    topics = (
        sa.select(ev.c.user_id, ev.c.topic_id, sa.func.min(ev.c.event_date).label("first_date"))
        .where(answered, ev.c.topic_id.is_not(None), ev.c.event_date <= last_day)
        .group_by(ev.c.user_id, ev.c.topic_id)
    )
    d = wh.read(daily)
    if len(d):
        for col in DAILY_COLUMNS[2:]:
            d[col] = pd.to_numeric(d[col]).astype(float)
        d["date"] = pd.to_datetime(d["date"]).dt.date
    return (d if len(d) else pd.DataFrame(columns=DAILY_COLUMNS)), wh.read(topics)


def activity_days(wh) -> tuple[dt.date, dt.date] | None:
    """The first and last event dates in the warehouse (None without events)."""
    ev = wh.table("events")
    row = wh.execute(sa.select(sa.func.min(ev.c.event_date), sa.func.max(ev.c.event_date))).one()
    if row[0] is None:
        return None
    return pd.Timestamp(row[0]).date(), pd.Timestamp(row[1]).date()
