import dataclasses
import datetime as dt

import pandas as pd
import sqlalchemy as sa

from alt42_pipeline.state import checks, latest_heartbeat
from alt42_pipeline.state.heartbeat import run_heartbeat
from alt42_pipeline.state.rules import load_rules

from .factories import NOW, add_events, answers, event

RULES = load_rules()


def test_the_checks_pass_after_a_heartbeat_and_catch_each_inconsistency(sqlite_warehouse):
    wh = sqlite_warehouse
    add_events(
        wh, answers(1, NOW - dt.timedelta(hours=1), 5, 20) + answers(2, NOW, 1, 0) + [event(3, NOW, success=None)]
    )
    beat = run_heartbeat(wh, RULES, now=NOW)
    latest = latest_heartbeat(wh)
    assert latest.heartbeat_id == beat.heartbeat_id and latest.errors == 1 and latest.error_details[0]["user_id"] == 3
    assert checks.invalid_states(wh) == 0
    assert checks.changes_not_in_cache(wh, beat.heartbeat_id) == 0
    assert checks.firings_off_rules(wh, beat.heartbeat_id, RULES) == 0
    assert checks.consumed_events_missing(wh, beat.heartbeat_id) == 0

    cache, events = wh.table("student_state_cache"), wh.table("events")
    wh.execute(sa.update(cache).where(cache.c.user_id == 1).values(state="bogus"))
    wh.execute(sa.delete(events).where(events.c.user_id == 2))
    assert checks.invalid_states(wh) == 1
    assert checks.changes_not_in_cache(wh, beat.heartbeat_id) == 1
    assert checks.consumed_events_missing(wh, beat.heartbeat_id) == 1
    newer = dataclasses.replace(RULES, version=RULES.version + 1)
    assert checks.firings_off_rules(wh, beat.heartbeat_id, newer) == 1


def test_no_heartbeat_yet_is_none(sqlite_warehouse):
    assert latest_heartbeat(sqlite_warehouse) is None
    failed = {
        "heartbeat_id": "x",
        "success": False,
        "timestamp": NOW,
        "students_processed": 0,
        "errors": 0,
        "duration_ms": 1,
    }
    sqlite_warehouse.append("heartbeat_log", pd.DataFrame([failed]))
    assert latest_heartbeat(sqlite_warehouse) is None
