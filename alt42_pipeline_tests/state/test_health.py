import datetime as dt

import pandas as pd

from alt42_pipeline.state import health, latest_heartbeat
from alt42_pipeline.state.health import ALERT, OK, RECOVERED, STILL_STALE, HealthCursor

T0 = dt.datetime(2026, 3, 10, 8, 0)
HOUR = dt.timedelta(minutes=60)
M = dt.timedelta(minutes=1)


def test_one_alert_per_incident_then_recovery():
    cursor = HealthCursor(watching_since=T0)
    beat = T0 + 5 * M
    steps = [
        (beat, T0 + 30 * M, OK),
        (beat, beat + HOUR - M, OK),
        (beat, beat + HOUR, ALERT),
        (beat, beat + 2 * HOUR, STILL_STALE),
        (beat + 3 * HOUR, beat + 3 * HOUR + M, RECOVERED),
        (beat + 3 * HOUR, beat + 3 * HOUR + 5 * M, OK),
        (beat + 3 * HOUR, beat + 5 * HOUR, ALERT),  # a second incident alerts again
    ]
    for last, now, expected in steps:
        verdict = health.assess(last, HealthCursor.loads(cursor.dumps(), now), now, HOUR)
        assert verdict.action == expected, (now, verdict.message)
        cursor = verdict.cursor
    assert cursor.incident_since == beat + 5 * HOUR


def test_a_fresh_deployment_gets_the_threshold_before_it_alerts():
    cursor = HealthCursor.loads(None, T0)
    assert health.assess(None, cursor, T0 + 59 * M, HOUR).action == OK
    verdict = health.assess(None, cursor, T0 + HOUR, HOUR)
    assert verdict.action == ALERT and "no successful heartbeat recorded" in verdict.message


def test_last_successful_heartbeat_ignores_failed_ones(warehouse):
    rows = pd.DataFrame(
        {
            "heartbeat_id": ["a", "b"],
            "success": [True, False],
            "timestamp": [T0, T0 + HOUR],
            "students_processed": 0,
            "errors": 0,
            "duration_ms": 1,
        }
    )
    assert latest_heartbeat(warehouse) is None
    warehouse.append("heartbeat_log", rows)
    assert latest_heartbeat(warehouse).timestamp == T0
