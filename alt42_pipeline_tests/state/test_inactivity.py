import datetime as dt

import pandas as pd

from alt42_pipeline.state import inactivity

from .factories import NOW

D = dt.timedelta(days=1)
M = dt.timedelta(minutes=1)


def _cache(wh, last_activity: dict[int, dt.datetime]) -> None:
    frame = pd.DataFrame(
        {
            "user_id": list(last_activity),
            "state": "active",
            "since": NOW - 60 * D,
            "last_activity_at": list(last_activity.values()),
            "recent_attempts": 0,
            "updated_at": NOW,
        }
    )
    wh.replace("student_state_cache", frame, where=None)


def test_crossings_are_the_students_whose_threshold_falls_in_the_window(warehouse):
    since, until = NOW - 10 * M, NOW
    _cache(
        warehouse,
        {
            1: since - 7 * D + M,  # crosses 7 days inside the window
            2: until - 7 * D,  # crosses exactly at `until`: included
            3: since - 7 * D,  # crossed exactly at `since`: the previous window's
            4: until - 30 * D - M / 2,  # crosses 30 days inside the window
            5: NOW - 2 * D,  # crosses nothing
        },
    )
    assert inactivity.count_crossings(warehouse, [7, 30], since, until) == 3
    assert inactivity.record_alerts(warehouse, [7, 30], since, until, detected_at=NOW) == 3
    alerts = warehouse.read("inactivity_alerts").sort_values("user_id")
    assert alerts[["user_id", "threshold_days"]].values.tolist() == [[1, 7], [2, 7], [4, 30]]
    assert alerts.notified_at.isna().all()


def test_an_alert_is_raised_once_per_crossing(warehouse):
    _cache(warehouse, {1: NOW - 7 * D - M})
    window = (NOW - 10 * M, NOW)
    assert inactivity.record_alerts(warehouse, [7], *window, detected_at=NOW) == 1
    assert inactivity.record_alerts(warehouse, [7], *window, detected_at=NOW + M) == 0  # a retried run
    # The student comes back and later crosses again: that is a new crossing.
    _cache(warehouse, {1: NOW + D})
    later = (NOW + 8 * D - 10 * M, NOW + 8 * D)
    assert inactivity.record_alerts(warehouse, [7], *later, detected_at=NOW + 8 * D) == 1
    assert warehouse.count("inactivity_alerts") == 2


def test_delivered_alerts_are_no_longer_pending(warehouse):
    _cache(warehouse, {1: NOW - 7 * D - M, 2: NOW - 7 * D - 2 * M})
    inactivity.record_alerts(warehouse, [7], NOW - 10 * M, NOW, detected_at=NOW)
    pending = inactivity.pending_alerts(warehouse)
    payload = inactivity.alert_payload(pending)
    assert payload["count"] == 2 and payload["alerts"][0]["threshold_days"] == 7
    inactivity.mark_notified(warehouse, pending.iloc[:1], NOW)
    assert inactivity.pending_alerts(warehouse).user_id.tolist() == pending.user_id.tolist()[1:]
