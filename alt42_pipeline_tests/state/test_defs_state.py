"""The Dagster shell of the state domain, on real instances and real warehouses."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from alt42_pipeline import clock as the_clock
from alt42_pipeline.defs import state as state_defs
from alt42_pipeline_tests.conftest import make_resources

from .factories import NOW, add_events, answers, event
from .webhook import webhook_server

M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)


@pytest.fixture
def clock(monkeypatch):
    """The time the definitions see; tests move it with ``clock.now = ...``."""

    class Clock:
        now = NOW

    monkeypatch.setattr(the_clock, "_source", lambda: Clock.now)
    return Clock


@pytest.fixture(autouse=True)
def _plain_settings(monkeypatch):
    for name in ("ALT42_HEARTBEAT_DRY_RUN", "ALT42_ALERT_WEBHOOK_URL", "ALT42_SCENARIOS_FILE", "ALT42_IDLE_AFTER_DAYS"):
        monkeypatch.delenv(name, raising=False)


def _resources(wh):
    return make_resources(wh.url)


def _materializations(result, node="student_state") -> dict[str, dict]:
    return {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node(node)
    }


def test_the_heartbeat_run_writes_its_log_row_and_the_same_summary_as_metadata(sqlite_warehouse, instance, clock):
    wh = sqlite_warehouse
    add_events(wh, answers(1, NOW - D, 5, 20) + [event(2, NOW - D, success=None)])
    heartbeat = [state_defs.student_state, *state_defs.HEARTBEAT_CHECKS]
    result = dg.materialize(heartbeat, resources=_resources(wh), instance=instance)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert len(checks) == 5
    assert all(c.passed for name, c in checks.items() if name != "heartbeat_without_student_errors")
    warning = checks["heartbeat_without_student_errors"]  # student 2's bad answer: a warning, not a failure
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.metadata["errors"].value == 1
    meta = _materializations(result)
    row = wh.read("heartbeat_log").iloc[0]
    assert row.run_id == result.run_id and bool(row.success)
    # the run's metadata is the legacy JSON result, the same as the log row's summary
    assert meta["heartbeat_log"] == row.summary
    assert sorted(row.summary) == sorted(
        ["success", "timestamp", "students_processed", "errors", "duration_ms", "results"]
    )
    assert row.summary["errors"] == row.errors == 1 and row.summary["students_processed"] == 1
    assert row.summary["results"]["events_consumed"] == row.events_consumed == 25
    cache = meta["student_state_cache"]
    assert cache["dagster/row_count"] == 1 and cache["students_at_risk"] == 1
    assert {"state": "at_risk", "students": 1} in [r.data for r in cache["students_by_state"].records]
    assert [r.data["user_id"] for r in cache["first_errors"].records] == [2]
    assert meta["event_processing_log"]["rows_added"] == 25

    again = dg.materialize(heartbeat, resources=_resources(wh), instance=instance)
    assert _materializations(again)["event_processing_log"]["rows_added"] == 0
    assert wh.count("heartbeat_log") == 2 and wh.count("event_processing_log") == 25


def test_a_dry_run_writes_nothing_and_reports_an_observation(sqlite_warehouse, instance, clock, monkeypatch):
    monkeypatch.setenv("ALT42_HEARTBEAT_DRY_RUN", "true")
    add_events(sqlite_warehouse, answers(1, NOW - D, 3, 0))
    result = dg.materialize(
        [state_defs.student_state, *state_defs.HEARTBEAT_CHECKS],
        resources=_resources(sqlite_warehouse),
        instance=instance,
    )
    assert result.success and _materializations(result) == {} and result.get_asset_check_evaluations() == []
    observations = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert len(observations) == 1
    assert sqlite_warehouse.count("heartbeat_log") == 0 and sqlite_warehouse.count("student_state_cache") == 0
    # its trace: the legacy JSON as the observation's metadata, in the instance's event log
    meta = {k: v.value for k, v in observations[0].event_specific_data.asset_observation.metadata.items()}
    assert sorted(meta) == sorted(["success", "timestamp", "students_processed", "errors", "duration_ms", "results"])
    assert meta["results"]["dry_run"] is True and meta["students_processed"] == 1


def test_an_invalid_rule_file_fails_the_run_naming_line_and_rule(
    sqlite_warehouse, instance, clock, monkeypatch, tmp_path
):
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: 2\nrules:\n  - id: slow\n    when: [recent_speed > 3]\n    at_risk: true\n")
    monkeypatch.setenv("ALT42_SCENARIOS_FILE", str(bad))
    result = dg.materialize(
        [state_defs.student_state], resources=_resources(sqlite_warehouse), instance=instance, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "rules.yaml:4: rule 'slow': unknown metric 'recent_speed'" in str(failure.step_failure_data.error)


def test_heartbeat_sensor_requests_each_30_minute_slot_once(instance, clock):
    clock.now = dt.datetime(2026, 3, 10, 8, 44, 10)
    first = state_defs.heartbeat_sensor(dg.build_sensor_context(instance=instance))
    assert [r.run_key for r in first.run_requests] == ["heartbeat:2026-03-10T08:30:00"]
    assert first.cursor == "2026-03-10T08:30:00"

    clock.now = dt.datetime(2026, 3, 10, 8, 59, 59)  # same slot: nothing new
    same = state_defs.heartbeat_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert isinstance(same, dg.SkipReason) and "already requested" in same.skip_message

    # A daemon that lost its cursor asks again with the same run key, which Dagster deduplicates.
    restarted = state_defs.heartbeat_sensor(dg.build_sensor_context(instance=instance))
    assert restarted.run_requests[0].run_key == first.run_requests[0].run_key

    clock.now = dt.datetime(2026, 3, 10, 9, 0, 0)
    following = state_defs.heartbeat_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [r.run_key for r in following.run_requests] == ["heartbeat:2026-03-10T09:00:00"]
    assert state_defs.heartbeat_sensor.job_name == "state_refresh_job"
    assert state_defs.heartbeat_sensor.minimum_interval_seconds == 30 * 60


def _cache_row(user_id: int, last: dt.datetime) -> dict:
    return {
        "user_id": user_id,
        "state": "active",
        "since": last,
        "last_activity_at": last,
        "recent_attempts": 0,
        "updated_at": NOW,
    }


def test_inactivity_sensor_launches_a_run_that_alerts_once_and_notifies(sqlite_warehouse, instance, clock, monkeypatch):
    wh = sqlite_warehouse
    resources = _resources(wh)
    first = state_defs.inactivity_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert first.run_requests == [] and first.cursor == NOW.isoformat()

    wh.replace(
        "student_state_cache",
        pd.DataFrame([_cache_row(1, NOW - 7 * D + 5 * M), _cache_row(2, NOW - 30 * D + 7 * M), _cache_row(3, NOW - D)]),
        where=None,
    )
    clock.now = NOW + 6 * M  # student 1 crosses 7 days; student 2 not yet 30
    tick = state_defs.inactivity_sensor(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
    )
    assert len(tick.run_requests) == 1 and tick.cursor == clock.now.isoformat()
    request = tick.run_requests[0]

    with webhook_server() as (url, receiver):
        monkeypatch.setenv("ALT42_ALERT_WEBHOOK_URL", url)
        receiver.statuses = [503]  # the first delivery fails once and is retried
        monkeypatch.setattr("alt42_pipeline.state.notify._sleep", lambda s: None)
        for _ in range(2):  # the second run is a retry of the same window
            result = dg.materialize(
                [state_defs.inactivity_alerts],
                run_config=request.run_config,
                resources=_resources(wh),
                instance=instance,
            )
            assert result.success
    assert [b["count"] for b in receiver.bodies] == [1]
    assert receiver.bodies[0]["alerts"][0]["user_id"] == 1
    alerts = wh.read("inactivity_alerts")
    assert alerts[["user_id", "threshold_days"]].values.tolist() == [[1, 7]] and alerts.notified_at.notna().all()

    quiet = state_defs.inactivity_sensor(
        dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources=resources)
    )
    assert quiet.run_requests == [] and "no threshold crossing" in quiet.skip_reason.skip_message


def _health_tick(wh, instance, cursor):
    resources = _resources(wh)  # the settings as the environment has them now
    return state_defs.pipeline_health_sensor(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    )


def test_pipeline_health_sensor_alerts_once_per_incident_and_clears(sqlite_warehouse, instance, clock, monkeypatch):
    def tick(cursor):
        return _health_tick(sqlite_warehouse, instance, cursor)

    def beat(at):
        row = {
            "heartbeat_id": at.isoformat(),
            "success": True,
            "timestamp": at,
            "students_processed": 1,
            "errors": 0,
            "duration_ms": 5,
        }
        sqlite_warehouse.append("heartbeat_log", pd.DataFrame([row]))

    with webhook_server() as (url, receiver):
        monkeypatch.setenv("ALT42_ALERT_WEBHOOK_URL", url)
        beat(NOW)
        cursor = tick(None).cursor
        clock.now = NOW + 61 * M
        cursor = tick(cursor).cursor
        clock.now = NOW + 66 * M
        cursor = tick(cursor).cursor  # still stale: no second alert
        beat(NOW + 70 * M)
        clock.now = NOW + 71 * M
        cursor = tick(cursor).cursor
        clock.now = NOW + 76 * M
        tick(cursor)
    assert [b["status"] for b in receiver.bodies] == ["alert", "recovered"]
    assert "heartbeat stale for 61 min" in receiver.bodies[0]["message"]


def test_in_dry_run_mode_the_dry_runs_keep_the_health_check_quiet(sqlite_warehouse, instance, clock, monkeypatch):
    monkeypatch.setenv("ALT42_HEARTBEAT_DRY_RUN", "true")
    add_events(sqlite_warehouse, answers(1, NOW - D, 3, 0))
    cursor = _health_tick(sqlite_warehouse, instance, None).cursor
    for slot in range(1, 5):  # a dry-run heartbeat every 30 minutes for two hours
        clock.now = NOW + slot * 30 * M
        assert dg.materialize([state_defs.student_state], resources=_resources(sqlite_warehouse), instance=instance)
        clock.now += 10 * M
        verdict = _health_tick(sqlite_warehouse, instance, cursor)
        cursor = verdict.cursor
        assert "heartbeat healthy" in verdict.skip_reason.skip_message and "dry run" in verdict.skip_reason.skip_message
    assert sqlite_warehouse.count("heartbeat_log") == 0  # still nothing written
    clock.now = NOW + 4 * 30 * M + 61 * M  # the dry runs stop: that is an incident too
    stale = _health_tick(sqlite_warehouse, instance, cursor).skip_reason.skip_message
    assert "heartbeat stale for 61 min" in stale and "dry run" in stale


def test_a_manual_dry_run_never_hides_a_stopped_heartbeat(sqlite_warehouse, instance, clock, monkeypatch):
    cursor = _health_tick(sqlite_warehouse, instance, None).cursor
    clock.now = NOW + 50 * M
    monkeypatch.setenv("ALT42_HEARTBEAT_DRY_RUN", "true")  # one dry run by hand (as `alt42 doctor` does)
    assert dg.materialize([state_defs.student_state], resources=_resources(sqlite_warehouse), instance=instance)
    monkeypatch.delenv("ALT42_HEARTBEAT_DRY_RUN")
    clock.now = NOW + 61 * M
    message = _health_tick(sqlite_warehouse, instance, cursor).skip_reason.skip_message
    assert "heartbeat stale for 61 min" in message and "no successful heartbeat recorded" in message


def test_a_failed_health_alert_delivery_is_tried_again(sqlite_warehouse, instance, clock, monkeypatch):
    monkeypatch.setattr("alt42_pipeline.state.notify._sleep", lambda s: None)
    with webhook_server() as (url, receiver):
        monkeypatch.setenv("ALT42_ALERT_WEBHOOK_URL", url)
        resources = _resources(sqlite_warehouse)
        start = state_defs.pipeline_health_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        receiver.statuses = [500, 500, 500]
        clock.now = NOW + 2 * 60 * M
        failed = state_defs.pipeline_health_sensor(
            dg.build_sensor_context(instance=instance, cursor=start.cursor, resources=resources)
        )
        assert isinstance(failed, dg.SkipReason) and "delivery failed" in failed.skip_message
        clock.now = NOW + 2 * 60 * M + 5 * M
        state_defs.pipeline_health_sensor(
            dg.build_sensor_context(instance=instance, cursor=start.cursor, resources=resources)
        )
    assert [b["status"] for b in receiver.bodies] == ["alert"]
