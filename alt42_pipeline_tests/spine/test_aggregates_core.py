import datetime as dt

import pandas as pd
import pytest

from alt42_pipeline.spine.features import features_topic_daily
from alt42_pipeline.spine.kpis import weekly_kpis

T = pd.Timestamp


def _events(rows):
    return pd.DataFrame(
        rows, columns=["event_id", "user_id", "verb", "question_id", "topic_id", "success", "duration_s", "occurred_at"]
    )


def test_features_count_accuracy_and_capped_time_on_task():
    ev = _events(
        [
            ("a", 1, "logged_in", None, None, None, None, T("2026-03-02 08:00:00")),
            ("b", 1, "answered", "q1", "alg", True, 20.0, T("2026-03-02 08:01:00")),  # +60 s
            ("c", 1, "answered", "q2", "alg", False, 40.0, T("2026-03-02 08:02:00")),  # +60 s
            ("d", 1, "answered", "q3", "geo", True, None, T("2026-03-02 10:02:00")),  # +2 h -> capped 1800 s
            ("e", 2, "answered", "q1", "alg", False, 10.0, T("2026-03-02 09:00:00")),  # first of user 2: 0
        ]
    )
    f = features_topic_daily(ev, dt.date(2026, 3, 2), dt.datetime(2026, 3, 3)).set_index(["user_id", "topic_id"])
    assert f.loc[(1, "alg"), "attempts"] == 2 and f.loc[(1, "alg"), "correct"] == 1
    assert f.loc[(1, "alg"), "accuracy"] == 0.5
    assert f.loc[(1, "alg"), "mean_response_time_s"] == 30.0
    assert f.loc[(1, "alg"), "time_on_task_s"] == 120.0
    assert f.loc[(1, "geo"), "time_on_task_s"] == 1800.0
    assert pd.isna(f.loc[(1, "geo"), "mean_response_time_s"])
    assert f.loc[(2, "alg"), "time_on_task_s"] == 0.0
    assert len(f) == 3


def test_weekly_kpis_definitions():
    ev = _events(
        [
            ("1", 1, "answered", "q1", "alg", False, 5.0, T("2026-03-02 08:00:00")),  # Mon
            ("2", 1, "answered", "q1", "alg", True, 5.0, T("2026-03-02 08:10:00")),  # retry, not a first attempt
            ("3", 1, "answered", "q2", "geo", True, 5.0, T("2026-03-03 08:00:00")),  # Tue
            ("4", 1, "viewed", None, None, None, None, T("2026-03-04 08:00:00")),  # Wed
            ("5", 1, "viewed", None, None, None, None, T("2026-03-06 08:00:00")),  # Fri
            ("6", 2, "logged_in", None, None, None, None, T("2026-03-08 23:00:00")),  # Sun only
        ]
    )
    k = weekly_kpis(ev, dt.date(2026, 3, 2), n_topics=4).set_index("user_id")["kpis"]
    one = k[1]
    assert one["attempts"] == 3
    assert one["accuracy"] == pytest.approx(2 / 3)
    assert one["first_attempt_accuracy"] == 0.5  # q1 wrong first, q2 right
    assert one["active_days"] == 4
    assert one["longest_streak_days"] == 3  # Mon-Tue-Wed
    assert one["topics_attempted"] == 2 and one["topic_coverage"] == 0.5
    assert one["time_on_task_s"] == 600 + 1800 * 3
    two = k[2]
    assert two["attempts"] == 0 and two["accuracy"] is None and two["first_attempt_accuracy"] is None
    assert two["active_days"] == 1 and two["time_on_task_s"] == 0


def test_week_must_start_on_monday():
    with pytest.raises(ValueError, match="not a Monday"):
        weekly_kpis(_events([]), dt.date(2026, 3, 3), 1)
