"""The Dagster shell: the asset, the job and db_schedule_sensor on a real instance."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading

import dagster as dg
import pytest
import sqlalchemy as sa

from alt42_pipeline import clock as the_clock
from alt42_pipeline.defs.interventions import (
    FIRST_DAY,
    SLOT_TAG,
    db_schedule_sensor,
    interventions,
    interventions_job,
)
from alt42_pipeline.interventions.schedule_store import add_schedule, update_schedule
from alt42_pipeline.interventions.schedules import Schedule
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import make_resources

from .builders import day_of_study, write_events

UTC = dt.UTC


@pytest.fixture
def resources(sqlite_warehouse):
    return make_resources(sqlite_warehouse.url)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def build_db_schedule_sensor(clock: Clock):
    """The sensor, seeing the time ``clock`` says when it evaluates."""

    def evaluate(context):
        with the_clock.frozen(clock):
            return db_schedule_sensor(context)

    return evaluate


def tick(sensor, instance, resources, cursor):
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    return result.run_requests or [], result.cursor


def backdate(wh: Warehouse, schedule_id: int, when: dt.datetime = dt.datetime(2026, 1, 1)) -> None:
    """As if the schedule had been created (and last changed) at ``when``."""
    table = wh.table("batch_schedules")
    wh.execute(sa.update(table).where(table.c.id == schedule_id).values(created_at=when, updated_at=when))


def test_the_asset_materializes_a_day_with_counts(sqlite_warehouse, resources, instance):
    day = dt.date(2026, 11, 20)
    write_events(sqlite_warehouse, day_of_study(1, day, [True, True]) + day_of_study(2, day, [True], others=()))
    result = dg.materialize([interventions], partition_key=day.isoformat(), resources=resources, instance=instance)
    [materialization] = result.asset_materializations_for_node("interventions")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (meta["processed"], meta["skipped_missing_records"], meta["skipped_duplicate"], meta["failed"]) == (
        1,
        1,
        0,
        0,
    )
    assert meta["recommender"] == "builtin-rules 1"
    stored = sqlite_warehouse.read("interventions")
    assert stored["run_id"].tolist() == [result.run_id]
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "interventions_without_failures" and check.passed


class PartlyFailingService(http.server.BaseHTTPRequestHandler):
    """A recommendation service that has no answer for student 1."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        students = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["students"]
        recs = [
            {"user_id": s["user_id"], "error": "no model"}
            if s["user_id"] == 1
            else {"user_id": s["user_id"], "code": "keep_going", "message": "ok", "priority": 3}
            for s in students
        ]
        body = json.dumps({"version": "svc-2", "recommendations": recs}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_remote_recommender_failing_for_one_student_warns_and_keeps_the_others(
    sqlite_warehouse, resources, instance, monkeypatch
):
    day = dt.date(2026, 11, 20)
    write_events(sqlite_warehouse, day_of_study(1, day, [True]) + day_of_study(2, day, [False]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PartlyFailingService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ALT42_RECOMMENDER", "remote")
        monkeypatch.setenv("ALT42_RECOMMENDER_URL", f"http://127.0.0.1:{server.server_address[1]}/recommend")
        resources = make_resources(sqlite_warehouse.url)  # the settings as the environment now has them
        result = dg.materialize([interventions], partition_key=day.isoformat(), resources=resources, instance=instance)
    finally:
        server.shutdown()
        server.server_close()
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    stored = sqlite_warehouse.read("interventions")
    assert stored[["user_id", "recommender", "recommender_version"]].values.tolist() == [[2, "remote", "svc-2"]]
    errors = sqlite_warehouse.read("intervention_errors")
    assert errors["user_id"].tolist() == [1] and "no model" in errors["message"][0]


def test_a_run_where_every_student_fails_is_a_failed_run_with_the_errors_stored(
    sqlite_warehouse, resources, instance, monkeypatch
):
    day = dt.date(2026, 11, 20)
    write_events(sqlite_warehouse, day_of_study(1, day, [True]) + day_of_study(2, day, [False]))
    monkeypatch.setenv("ALT42_RECOMMENDER", "remote")
    monkeypatch.setenv("ALT42_RECOMMENDER_URL", "http://127.0.0.1:9/recommend")  # nothing listens there
    monkeypatch.setenv("ALT42_RECOMMENDER_ATTEMPTS", "1")
    resources = make_resources(sqlite_warehouse.url)  # the settings as the environment now has them
    result = dg.materialize(
        [interventions], partition_key=day.isoformat(), resources=resources, instance=instance, raise_on_error=False
    )
    assert not result.success
    errors = sqlite_warehouse.read("intervention_errors")
    assert sorted(errors["user_id"]) == [1, 2]
    assert set(errors["error_type"]) == {"alt42_pipeline.interventions.remote.RecommenderUnavailable"}
    assert set(errors["run_id"]) == {result.run_id}
    assert sqlite_warehouse.count("interventions") == 0


def test_sensor_fires_once_per_slot_and_the_run_it_asks_for_runs(sqlite_warehouse, resources, instance):
    schedule = add_schedule(sqlite_warehouse, Schedule(name="nightly", frequency="daily", hour=9, minute=0))
    backdate(sqlite_warehouse, schedule.id)
    sensor = build_db_schedule_sensor(Clock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)))

    [request], cursor = tick(sensor, instance, resources, None)
    assert request.run_key == f"{schedule.id}:2026-11-20T09:00:00+00:00"
    assert request.partition_key == "2026-11-19"
    assert request.job_name == "interventions_job"
    assert request.tags["alt42/schedule"] == "nightly" and request.tags["alt42/schedule_id"] == str(schedule.id)
    assert json.loads(cursor) == {str(schedule.id): "2026-11-20T09:00:00+00:00"}
    # the next tick, with the cursor the daemon kept: nothing new
    assert tick(sensor, instance, resources, cursor)[0] == []

    # the run the sensor asked for, launched on the instance
    write_events(sqlite_warehouse, day_of_study(1, dt.date(2026, 11, 19), [True]))
    result = dg.materialize(
        [interventions], partition_key=request.partition_key, tags=request.tags, resources=resources, instance=instance
    )
    assert result.success and sqlite_warehouse.count("interventions") == 1
    # a tick that lost its cursor (reset sensor, overlapping tick) sees the run and asks for none
    assert tick(sensor, instance, resources, None)[0] == []
    assert len(instance.get_run_records(filters=dg.RunsFilter(tags={SLOT_TAG: request.run_key}))) == 1


def test_after_downtime_only_the_latest_missed_slot_fires(sqlite_warehouse, resources, instance):
    schedule = add_schedule(sqlite_warehouse, Schedule(name="nightly", frequency="daily", hour=9, minute=0))
    backdate(sqlite_warehouse, schedule.id)
    clock = Clock(dt.datetime(2026, 11, 10, 10, 0, tzinfo=UTC))
    sensor = build_db_schedule_sensor(clock)
    _, cursor = tick(sensor, instance, resources, None)
    clock.now = dt.datetime(2026, 11, 14, 8, 0, tzinfo=UTC)  # four days down, before today's slot
    [request], cursor = tick(sensor, instance, resources, cursor)
    assert (request.run_key, request.partition_key) == (f"{schedule.id}:2026-11-13T09:00:00+00:00", "2026-11-12")
    assert tick(sensor, instance, resources, cursor)[0] == []


def test_changes_and_deactivation_take_effect_at_the_next_tick(sqlite_warehouse, resources, instance):
    weekly = add_schedule(sqlite_warehouse, Schedule(name="weekly", frequency="weekly", hour=6, minute=0))
    daily = add_schedule(
        sqlite_warehouse, Schedule(name="daily", frequency="daily", hour=9, minute=0, timezone="Asia/Seoul")
    )
    # the clock is after the schedules were created (real time), as in production
    clock = Clock(dt.datetime(2030, 1, 6, 1, 0, tzinfo=UTC))  # Sunday 10:00 in Seoul
    sensor = build_db_schedule_sensor(clock)
    requests, cursor = tick(sensor, instance, resources, None)
    assert sorted(r.run_key for r in requests) == [
        f"{weekly.id}:2029-12-30T06:00:00+00:00",  # last Sunday 06:00 UTC
        f"{daily.id}:2030-01-06T00:00:00+00:00",  # today 09:00 in Seoul
    ]
    update_schedule(sqlite_warehouse, "daily", is_active=False)
    update_schedule(sqlite_warehouse, "weekly", hour=0, minute=30)
    requests, cursor = tick(sensor, instance, resources, cursor)
    assert [r.run_key for r in requests] == [f"{weekly.id}:2030-01-06T00:30:00+00:00"]
    clock.now = dt.datetime(2030, 1, 7, 1, 0, tzinfo=UTC)  # the daily slot passes while inactive
    assert tick(sensor, instance, resources, cursor)[0] == []
    update_schedule(sqlite_warehouse, "weekly", is_active=False)
    update_schedule(sqlite_warehouse, "daily", is_active=True)
    clock.now = dt.datetime(2030, 1, 8, 1, 0, tzinfo=UTC)
    requests, cursor = tick(sensor, instance, resources, cursor)
    assert [r.run_key for r in requests] == [f"{daily.id}:2030-01-08T00:00:00+00:00"]
    assert json.loads(cursor) == {
        str(daily.id): "2030-01-08T00:00:00+00:00",
        str(weekly.id): "2030-01-06T00:30:00+00:00",
    }


def test_the_job_runs_a_partition_like_a_scheduled_run(sqlite_warehouse, resources, instance):
    day = dt.date(2026, 11, 20)
    write_events(sqlite_warehouse, day_of_study(1, day, [True]))
    job = dg.Definitions(assets=[interventions], jobs=[interventions_job], resources=resources).resolve_job_def(
        "interventions_job"
    )
    result = job.execute_in_process(instance=instance, partition_key=day.isoformat())
    assert result.success
    assert result.dagster_run.tags["alt42/serial"] == "interventions"
    assert sqlite_warehouse.read("interventions")["run_id"].tolist() == [result.run_id]


def test_a_row_written_around_the_cli_with_bad_values_does_not_block_the_others(sqlite_warehouse, resources, instance):
    good = add_schedule(sqlite_warehouse, Schedule(name="good", frequency="daily", hour=9, minute=0))
    bad = add_schedule(sqlite_warehouse, Schedule(name="bad", frequency="daily", hour=9, minute=0))
    table = sqlite_warehouse.table("batch_schedules")
    sqlite_warehouse.execute(sa.update(table).where(table.c.id == bad.id).values(frequency="hourly"))
    backdate(sqlite_warehouse, good.id)
    backdate(sqlite_warehouse, bad.id)
    sensor = build_db_schedule_sensor(Clock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)))
    [request], cursor = tick(sensor, instance, resources, None)
    assert request.run_key.startswith(f"{good.id}:")
    assert str(bad.id) not in json.loads(cursor)


def test_a_slot_whose_day_is_before_the_first_partition_is_not_requested(sqlite_warehouse, resources, instance):
    schedule = add_schedule(sqlite_warehouse, Schedule(name="nightly", frequency="daily", hour=9, minute=0))
    backdate(sqlite_warehouse, schedule.id, dt.datetime(2000, 1, 1))
    first = dt.datetime.combine(FIRST_DAY, dt.time(10, 0), tzinfo=UTC)  # looks at the day before the first
    sensor = build_db_schedule_sensor(Clock(first))
    assert tick(sensor, instance, resources, None)[0] == []
    later = build_db_schedule_sensor(Clock(first + dt.timedelta(days=1)))
    [request], _ = tick(later, instance, resources, None)
    assert request.partition_key == FIRST_DAY.isoformat()
