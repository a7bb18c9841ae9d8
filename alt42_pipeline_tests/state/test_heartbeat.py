import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from alt42_pipeline.state.heartbeat import LEGACY_KEYS, HeartbeatConfig, HeartbeatFailed, run_heartbeat
from alt42_pipeline.state.machine import Thresholds
from alt42_pipeline.state.rules import load_rules
from alt42_pipeline.warehouse import Transaction, Warehouse

from .factories import NOW, add_events, answers, event

RULES = load_rules()
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def _cache(wh) -> pd.DataFrame:
    return wh.read("student_state_cache").set_index("user_id")


def _platform(wh) -> None:
    add_events(
        wh,
        answers(1, NOW - H, correct=18, wrong=2)  # active, thriving
        + answers(2, NOW - 2 * H, correct=5, wrong=20)  # at risk: struggling
        + answers(3, NOW - 9 * D, correct=3, wrong=0)  # idle
        + answers(4, NOW - 45 * D, correct=1, wrong=0)  # inactive
        + [event(5, NOW - 3 * H, verb="viewed")],  # active, no answers yet
    )


def test_first_heartbeat_classifies_every_student_and_logs_why(warehouse):
    _platform(warehouse)
    summary = run_heartbeat(warehouse, RULES, now=NOW, run_id="run-1")

    cache = _cache(warehouse)
    assert cache["state"].to_dict() == {1: "active", 2: "at_risk", 3: "idle", 4: "inactive", 5: "active"}
    assert cache.loc[2, "recent_attempts"] == 25 and cache.loc[2, "recent_accuracy"] == pytest.approx(0.2)
    assert pd.isna(cache.loc[5, "recent_accuracy"]) and cache.loc[5, "recent_attempts"] == 0
    assert cache.loc[2, "active_scenarios"] == ["struggling"] and cache.loc[1, "active_scenarios"] == ["thriving"]
    assert cache.loc[3, "last_activity_at"] == pd.Timestamp(NOW - 9 * D)
    assert cache.loc[3, "since"] == pd.Timestamp(NOW - 2 * D)  # idle since the 7-day crossing

    changes = warehouse.read("state_change_log").set_index("user_id")
    assert changes["from_state"].isna().all() and len(changes) == 5
    assert changes.loc[2, "reason"] == "first seen: at-risk scenarios fired: struggling"

    fired = warehouse.read("scenario_evaluation_log").set_index(["user_id", "scenario"])
    assert sorted(fired.index) == [(1, "thriving"), (2, "struggling")]
    assert fired.loc[(2, "struggling"), "inputs"] == {"recent_accuracy": 0.2, "recent_attempts": 25}
    assert (fired["rules_version"] == RULES.version).all()

    beats = warehouse.read("heartbeat_log")
    assert len(beats) == 1 and bool(beats.success[0]) and beats.run_id[0] == "run-1"
    assert beats.students_processed[0] == summary.students_processed == 5
    assert beats.events_consumed[0] == warehouse.count("events") == summary.events_consumed
    assert beats.details[0]["states"] == {"active": 2, "at_risk": 1, "idle": 1, "inactive": 1}


def test_the_result_is_the_legacy_heartbeat_json_and_its_log_row_keeps_it(warehouse):
    _platform(warehouse)
    summary = run_heartbeat(warehouse, RULES, now=NOW)
    result = summary.legacy()
    # exactly the keys heartbeat.php printed, in its order
    assert list(result) == ["success", "timestamp", "students_processed", "errors", "duration_ms", "results"]
    assert tuple(result) == LEGACY_KEYS
    assert result["success"] is True and result["timestamp"] == "2026-03-10T12:00:00+00:00"
    assert result["students_processed"] == 5 and result["errors"] == 0
    assert isinstance(result["duration_ms"], float) and result["duration_ms"] >= 0
    results = result["results"]
    assert results["states"] == {"active": 2, "idle": 1, "inactive": 1, "at_risk": 1}
    assert results["state_changes"] == 5 and results["scenarios_fired"] == 2
    assert results["events_consumed"] == warehouse.count("events") and results["dry_run"] is False
    assert json.loads(json.dumps(result)) == result  # plain JSON, nothing a scraper cannot read
    assert warehouse.read("heartbeat_log").summary[0] == result

    dry = run_heartbeat(warehouse, RULES, now=NOW + H, dry_run=True).legacy()
    assert tuple(dry) == LEGACY_KEYS and dry["results"]["dry_run"] is True and dry["success"] is True


def test_no_student_at_all_is_a_successful_heartbeat(warehouse):
    # the legacy test script's dry run: "0 students processed is a success"
    for dry_run in (True, False):
        result = run_heartbeat(warehouse, RULES, now=NOW, dry_run=dry_run).legacy()
        assert (result["success"], result["students_processed"], result["errors"]) == (True, 0, 0)
        assert result["results"]["states"] == {"active": 0, "idle": 0, "inactive": 0, "at_risk": 0}
    assert warehouse.count("heartbeat_log") == 1


def test_nothing_changed_means_no_change_rows_and_time_moves_states_on(warehouse):
    _platform(warehouse)
    run_heartbeat(warehouse, RULES, now=NOW)
    quiet = run_heartbeat(warehouse, RULES, now=NOW + 30 * dt.timedelta(minutes=1))
    assert quiet.state_changes == 0 and quiet.events_consumed == 0 and quiet.scenarios_fired == 0
    assert warehouse.count("state_change_log") == 5

    later = NOW + 8 * D
    run_heartbeat(warehouse, RULES, now=later)
    log = warehouse.read("state_change_log", {"to_state": "idle"}).set_index("user_id")
    assert sorted(log.index) == [1, 2, 3, 5] and log.loc[1, "from_state"] == "active"
    assert log.loc[1, "changed_at"] == pd.Timestamp(NOW - H + 7 * D)
    assert log.loc[1, "reason"] == "no activity for 8 days (idle after 7)"
    cache = _cache(warehouse)
    assert cache.loc[3, "state"] == "idle" and cache.loc[3, "since"] == pd.Timestamp(NOW - 2 * D)


def test_a_returning_student_becomes_active_again(warehouse):
    add_events(warehouse, answers(7, NOW - 40 * D, 2, 0))
    run_heartbeat(warehouse, RULES, now=NOW)
    add_events(warehouse, answers(7, NOW + H, 3, 0))
    run_heartbeat(warehouse, RULES, now=NOW + 2 * H)
    last = warehouse.read("state_change_log", {"user_id": 7}).sort_values("id").iloc[-1]
    assert (last.from_state, last.to_state, last.reason) == ("inactive", "active", "activity resumed")
    assert _cache(warehouse).loc[7, "last_activity_at"] == pd.Timestamp(NOW + H)


def test_one_students_bad_data_is_an_error_not_a_failed_run(warehouse):
    _platform(warehouse)
    bad = [event(8, NOW - H, success=None), event(8, NOW - H, score=1.7), event(9, NOW + D)]
    add_events(warehouse, bad + answers(8, NOW - H, 3, 0))
    summary = run_heartbeat(warehouse, RULES, now=NOW)

    assert summary.success and summary.errors == 2 and summary.students_processed == 5
    errors = {e["user_id"]: e["error"] for e in summary.error_details}
    assert errors[8] == "2 answered events without success/score in [0, 1]"
    assert errors[9] == "1 events dated in the future"
    assert sorted(_cache(warehouse).index) == [1, 2, 3, 4, 5]
    # Their events are not consumed: nothing is lost, they are taken up once the data is fixed.
    assert warehouse.count("event_processing_log", {"user_id": [8, 9]}) == 0
    assert warehouse.read("heartbeat_log").details[0]["error_details"] == summary.error_details

    events = warehouse.table("events")
    warehouse.execute(sa.delete(events).where(events.c.event_id.in_([bad[0]["event_id"], bad[1]["event_id"]])))
    fixed = run_heartbeat(warehouse, RULES, now=NOW + H)
    assert fixed.errors == 1 and fixed.events_consumed == 3
    assert _cache(warehouse).loc[8, "state"] == "active"


def test_each_event_is_processed_once_across_a_retried_run(warehouse, monkeypatch):
    _platform(warehouse)
    real_replace = Transaction.replace

    def crash(self, base, frame, where):
        raise RuntimeError("connection lost while writing the cache")

    monkeypatch.setattr(Transaction, "replace", crash)
    with pytest.raises(HeartbeatFailed, match="connection lost") as info:
        run_heartbeat(warehouse, RULES, now=NOW, run_id="attempt-1")
    # Nothing of the failed attempt survives but its failed heartbeat row.
    assert warehouse.count("event_processing_log") == 0 and warehouse.count("student_state_cache") == 0
    failed = warehouse.read("heartbeat_log")
    assert (
        len(failed) == 1
        and not failed.success[0]
        and "connection lost" in failed.details[0]["error_details"][0]["error"]
    )
    # the failure's JSON result (what `alt42 heartbeat` prints) is the failed row's summary
    assert failed.summary[0] == info.value.summary.legacy()
    assert failed.summary[0]["success"] is False and failed.summary[0]["errors"] == 1
    assert "connection lost" in failed.summary[0]["results"]["first_errors"][0]["error"]

    monkeypatch.setattr(Transaction, "replace", real_replace)
    retry = run_heartbeat(warehouse, RULES, now=NOW, run_id="attempt-2")
    again = run_heartbeat(warehouse, RULES, now=NOW, run_id="attempt-2-rerun")
    assert retry.events_consumed == warehouse.count("events") and again.events_consumed == 0
    consumed = warehouse.read("event_processing_log")
    assert consumed.event_id.is_unique and set(consumed.event_id) == set(warehouse.read("events").event_id)
    assert set(consumed.heartbeat_id) == {retry.heartbeat_id}
    assert warehouse.count("scenario_evaluation_log") == 2 and warehouse.count("state_change_log") == 5

    # An event arriving late for an older day is taken up by the next day's full refresh.
    late = event(1, NOW - 3 * D, verb="viewed")
    add_events(warehouse, [late])
    assert run_heartbeat(warehouse, RULES, now=NOW + H).events_consumed == 0
    next_day = run_heartbeat(warehouse, RULES, now=NOW + D)
    assert next_day.full_refresh and next_day.events_consumed == 1
    assert warehouse.count("event_processing_log", {"event_id": late["event_id"]}) == 1


def test_dry_run_computes_the_same_and_writes_nothing(warehouse):
    _platform(warehouse)
    dry = run_heartbeat(warehouse, RULES, now=NOW, dry_run=True)
    for table in (
        "student_state_cache",
        "state_change_log",
        "scenario_evaluation_log",
        "event_processing_log",
        "heartbeat_log",
    ):
        assert warehouse.count(table) == 0, table
    real = run_heartbeat(warehouse, RULES, now=NOW)
    assert dry.dry_run and dry.success
    for name in ("students_processed", "errors", "events_consumed", "state_changes", "scenarios_fired", "states"):
        assert getattr(dry, name) == getattr(real, name), name


def test_abilities_are_used_when_present_and_the_view_shows_the_latest(warehouse):
    add_events(warehouse, answers(1, NOW - H, 2, 1) + answers(2, NOW - H, 2, 1))
    ability = pd.DataFrame({"user_id": [1], "theta": [-2.0], "se": [0.3], "method": ["EAP"], "fitted_at": [NOW - D]})
    warehouse.append("mirt_ability", ability)
    run_heartbeat(warehouse, RULES, now=NOW)
    cache = _cache(warehouse)
    assert cache.loc[1, "state"] == "at_risk" and cache.loc[1, "active_scenarios"] == ["low_ability"]
    assert cache.loc[1, "theta"] == -2.0 and pd.isna(cache.loc[2, "theta"])

    warehouse.replace("mirt_ability", ability.assign(theta=0.4, se=0.2), where=None)
    view = warehouse.read(sa.text(f"SELECT * FROM {warehouse.schema.name('v_student_state')} ORDER BY user_id"))
    assert view.theta.tolist()[0] == 0.4 and view.theta_se.tolist()[0] == 0.2 and pd.isna(view.theta[1])
    assert view.state.tolist() == ["at_risk", "active"]


def test_student_activity_view_aggregates_events_per_day(warehouse):
    add_events(warehouse, answers(1, NOW, 2, 1) + [event(1, NOW, verb="viewed")])
    view = warehouse.read(sa.text(f"SELECT * FROM {warehouse.schema.name('student_activity')}"))
    assert view[["events", "attempts", "correct"]].iloc[0].tolist() == [4, 3, 2]


def test_a_smaller_window_and_thresholds_come_from_the_config(warehouse):
    add_events(warehouse, answers(1, NOW - 3 * D, 5, 20))
    config = HeartbeatConfig(thresholds=Thresholds(idle_days=2, inactive_days=10), window_days=2)
    summary = run_heartbeat(warehouse, RULES, config, now=NOW)
    cache = _cache(warehouse)
    assert summary.states["idle"] == 1 and cache.loc[1, "recent_attempts"] == 0


def test_incremental_heartbeats_agree_with_a_full_refresh(warehouse, tmp_path):
    """Over a day of half-hourly heartbeats with new events and events leaving the
    window, the incrementally maintained cache equals a full refresh from scratch."""
    history = []
    for user in range(1, 41):
        for day in range(1, 9):  # day 7's events leave the window during the heartbeats below
            if (user + day) % 3:
                history += answers(
                    user, NOW - day * D + user * 7 * dt.timedelta(minutes=1), correct=user % 4, wrong=day % 3
                )
    add_events(warehouse, history)
    assert run_heartbeat(warehouse, RULES, now=NOW).full_refresh
    at = NOW
    for step in range(1, 12):
        at = NOW + step * 30 * dt.timedelta(minutes=1)
        add_events(warehouse, answers(step, at - dt.timedelta(minutes=5), correct=step % 2, wrong=1))
        beat = run_heartbeat(warehouse, RULES, now=at)
        assert not beat.full_refresh and beat.students_updated < beat.students_processed
    incremental = _cache(warehouse)

    fresh = Warehouse(f"sqlite:///{tmp_path / 'from_scratch.db'}")
    fresh.migrate()
    fresh.append("events", warehouse.read("events"))
    run_heartbeat(fresh, RULES, now=at)
    full = _cache(fresh)
    columns = [
        "state",
        "last_activity_at",
        "recent_accuracy",
        "recent_attempts",
        "recent_events",
        "recent_active_days",
        "active_scenarios",
    ]
    pd.testing.assert_frame_equal(incremental[columns].sort_index(), full[columns].sort_index(), check_dtype=False)
