"""Weekly KPIs per student, from the canonical events of one ISO week (Monday UTC).

Each KPI, as stored in the ``kpis`` JSON document of ``weekly_kpi``:

``attempts``
    Number of answered questions in the week.
``accuracy``
    Share of those answers that were correct (null without answers).
``first_attempt_accuracy``
    For every question the student answered in the week, whether the *first* answer of
    the week to it was correct; the share of such first answers that were (null without
    answers). Repeated tries do not inflate it.
``active_days``
    Days of the week with at least one event of any kind.
``time_on_task_s``
    Sum over the student's events of the time since the previous event, each gap capped
    at 30 minutes (``spine.timing``); the first event of the week adds nothing.
``longest_streak_days``
    Longest run of consecutive active days inside the week (0 to 7).
``topics_attempted`` / ``topic_coverage``
    Distinct topics answered in the week, and that count over the number of topics in the
    catalogue (null when the catalogue is empty).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .events import ANSWERED
from .timing import capped_gaps

KPI_NAMES = [
    "attempts",
    "accuracy",
    "first_attempt_accuracy",
    "active_days",
    "time_on_task_s",
    "longest_streak_days",
    "topics_attempted",
    "topic_coverage",
]


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def weekly_kpis(events: pd.DataFrame, week: dt.date, n_topics: int) -> pd.DataFrame:
    """KPIs of every student with an event in the week starting ``week`` (a Monday).

    Returns columns ``user_id``, ``week_start`` and ``kpis`` (a dict per student).
    """
    if week.weekday() != 0:
        raise ValueError(f"week_start {week} is not a Monday")
    if events.empty:
        return pd.DataFrame(columns=["user_id", "week_start", "kpis"])
    ev = events.sort_values(["user_id", "occurred_at", "event_id"])
    ev = ev.assign(_tot=capped_gaps(ev), _day=pd.to_datetime(ev["occurred_at"]).dt.normalize())
    users = pd.Index(np.unique(ev["user_id"].to_numpy()), name="user_id")
    k = pd.DataFrame(index=users)

    k["time_on_task_s"] = ev.groupby("user_id")["_tot"].sum()
    days = ev[["user_id", "_day"]].drop_duplicates()
    k["active_days"] = days.groupby("user_id").size()
    k["longest_streak_days"] = _longest_streak(days)

    ans = ev[ev["verb"] == ANSWERED]
    ok = ans["success"].fillna(False).astype(int)
    k["attempts"] = ans.groupby("user_id").size()
    k["accuracy"] = ok.groupby(ans["user_id"]).mean()
    first = ans.drop_duplicates(["user_id", "question_id"], keep="first")
    k["first_attempt_accuracy"] = first["success"].fillna(False).astype(int).groupby(first["user_id"]).mean()
    k["topics_attempted"] = ans.dropna(subset=["topic_id"]).groupby("user_id")["topic_id"].nunique()

    k[["attempts", "topics_attempted"]] = k[["attempts", "topics_attempted"]].fillna(0).astype(int)
    k["topic_coverage"] = k["topics_attempted"] / n_topics if n_topics else np.nan
    k["time_on_task_s"] = k["time_on_task_s"].round(3)
    k = k[KPI_NAMES].astype(object).where(k[KPI_NAMES].notna(), None)
    records = [{name: _plain(v) for name, v in zip(KPI_NAMES, row)} for row in k.itertuples(index=False, name=None)]
    return pd.DataFrame({"user_id": users.to_numpy(), "week_start": week, "kpis": records})


def _longest_streak(days: pd.DataFrame) -> pd.Series:
    d = days.sort_values(["user_id", "_day"])
    ordinal = d["_day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    user = d["user_id"].to_numpy()
    new_run = np.r_[True, (user[1:] != user[:-1]) | (np.diff(ordinal) != 1)]
    run_id = np.cumsum(new_run)
    run_len = pd.Series(run_id).map(pd.Series(run_id).value_counts())
    return pd.Series(run_len.to_numpy(), index=user).groupby(level=0).max()


def _plain(value):
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    return value
