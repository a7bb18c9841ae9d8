"""Daily per-student, per-topic features from one day of canonical events."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .events import ANSWERED
from .timing import capped_gaps

FEATURE_COLUMNS = [
    "user_id",
    "topic_id",
    "date",
    "attempts",
    "correct",
    "accuracy",
    "mean_response_time_s",
    "time_on_task_s",
    "computed_at",
]


def features_topic_daily(events: pd.DataFrame, day: dt.date, computed_at: dt.datetime) -> pd.DataFrame:
    """One row per (student, topic) with answers on ``day``.

    * ``attempts``: answered events; ``correct``: those with success;
      ``accuracy`` = correct / attempts;
    * ``mean_response_time_s``: mean ``duration_s`` of the answers that report one
      (NULL when none does);
    * ``time_on_task_s``: for each answer in the topic, the time since the student's
      previous event of the day (any verb), capped at 30 minutes (see ``spine.timing``).
    """
    if events.empty:
        return pd.DataFrame(columns=FEATURE_COLUMNS)
    ev = events.sort_values(["user_id", "occurred_at", "event_id"])
    ev = ev.assign(_tot=capped_gaps(ev))
    ans = ev[(ev["verb"] == ANSWERED) & ev["topic_id"].notna()]
    if ans.empty:
        return pd.DataFrame(columns=FEATURE_COLUMNS)
    ans = ans.assign(_ok=ans["success"].fillna(False).astype(int))
    g = ans.groupby(["user_id", "topic_id"], sort=True)
    out = g.agg(
        attempts=("event_id", "size"),
        correct=("_ok", "sum"),
        mean_response_time_s=("duration_s", "mean"),
        time_on_task_s=("_tot", "sum"),
    ).reset_index()
    out["accuracy"] = out["correct"] / out["attempts"]
    out["date"] = day
    out["computed_at"] = computed_at
    return out[FEATURE_COLUMNS]
