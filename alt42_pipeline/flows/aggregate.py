"""Features per day and KPIs per week, computed from the warehouse's events."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ..core.features import features_topic_daily
from ..core.kpis import weekly_kpis
from ..warehouse import Warehouse

_EVENT_FIELDS = ["event_id", "user_id", "verb", "question_id", "topic_id", "success", "duration_s", "occurred_at"]


def read_events(wh: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Events with ``first <= event_date <= last`` (uses the (event_date, user_id) index)."""
    t = wh.table("events")
    stmt = sa.select(*[t.c[c] for c in _EVENT_FIELDS]).where(t.c.event_date >= first, t.c.event_date <= last)
    return wh.read(stmt)


def refresh_features(wh: Warehouse, day: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Replace the ``features_topic_daily`` partition of ``day``; returns what was written."""
    frame = features_topic_daily(read_events(wh, day, day), day, now)
    wh.replace("features_topic_daily", frame, {"date": day})
    return frame


def refresh_kpis(wh: Warehouse, week: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Replace the ``weekly_kpi`` partition of the week starting ``week``."""
    q = wh.table("questions")
    n_topics = int(wh.scalar(sa.select(sa.func.count(sa.distinct(q.c.topic_id)))) or 0)
    frame = weekly_kpis(read_events(wh, week, week + dt.timedelta(days=6)), week, n_topics)
    frame["updated_at"] = now
    wh.replace("weekly_kpi", frame, {"week_start": week})
    return frame
