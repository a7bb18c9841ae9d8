"""The batch management API as its clients call it: ``alt42 api`` (uvicorn) in front of a
PostgreSQL warehouse and a Dagster instance whose webserver launches the runs."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import httpx
from dagster._daemon.types import DaemonHeartbeat

from alt42_pipeline.cli import main
from alt42_pipeline.defs.interventions import interventions, interventions_job
from alt42_pipeline.defs.resources import WarehouseResource
from alt42_pipeline_tests.conftest import make_resources
from alt42_pipeline_tests.interventions.builders import day_of_study, write_events

from .conftest import PREFIX, TOKEN

SCHEDULES = "/api/batch/schedule/"
YESTERDAY = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()


def _loc(response) -> list[str]:
    """The fields a 4xx response names."""
    return sorted(e["loc"][-1] for e in response.json()["detail"] if len(e["loc"]) > 1)


def test_probes_and_docs_are_open_and_every_batch_endpoint_needs_the_token(deployment, api):
    with deployment.client(token=None) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        docs = anonymous.get("/api/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text and "cdn" not in docs.text.lower()
        assert anonymous.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200  # served, not a CDN
        paths = anonymous.get("/api/openapi.json").json()["paths"]
        assert {SCHEDULES, "/api/batch/run/", "/api/batch/status/", "/api/batch/sync/"} <= set(paths)
        for method, path in [
            ("GET", SCHEDULES),
            ("POST", SCHEDULES),
            ("PUT", SCHEDULES),
            ("DELETE", f"{SCHEDULES}1/"),
            ("POST", "/api/batch/run/"),
            ("GET", "/api/batch/status/"),
            ("POST", "/api/batch/sync/"),
        ]:
            refused = anonymous.request(method, path, json={})
            assert refused.status_code == 401, (method, path)
            assert refused.headers["WWW-Authenticate"] == "Bearer"
    for wrong in ("nope", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        with deployment.client(token=wrong) as client:
            assert client.get(SCHEDULES).status_code == 401
    basic = api.get(SCHEDULES, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401 and TOKEN not in basic.text
    assert api.get(SCHEDULES).status_code == 200


def test_schedules_are_managed_with_the_clis_validation_and_errors_name_the_fields(deployment, api):
    created = api.post(SCHEDULES, json={"name": "nightly", "frequency": "daily", "hour": 9})
    assert created.status_code == 201
    nightly = created.json()
    assert (nightly["minute"], nightly["timezone"], nightly["is_active"]) == (0, "UTC", True)
    assert nightly["description"] == "every day at 09:00 UTC, target interventions, active"

    # the values: the domain's validation, the CLI's messages, each field named
    bad = api.post(SCHEDULES, json={"name": "x", "frequency": "hourly", "hour": 25, "timezone": "Nowhere/Land"})
    assert bad.status_code == 422 and _loc(bad) == ["frequency", "hour", "timezone"]
    messages = {e["loc"][-1]: e["msg"] for e in bad.json()["detail"]}
    assert messages["hour"] == "hour must be an integer from 0 to 23, not 25"
    assert "'Nowhere/Land' is not an IANA time zone" in messages["timezone"]
    # the types and the shape: pydantic's errors, also by field
    typed = api.post(SCHEDULES, json={"name": "y", "frequency": "daily", "hour": "9", "colour": "red"})
    assert typed.status_code == 422 and _loc(typed) == ["colour", "hour"]
    assert api.post(SCHEDULES, json={"frequency": "daily", "hour": 1}).status_code == 422
    assert api.post(SCHEDULES, content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    taken = api.post(SCHEDULES, json={"name": "nightly", "frequency": "weekly", "hour": 3})
    assert taken.status_code == 409 and _loc(taken) == ["name"]

    weekly = api.post(SCHEDULES, json={"name": "weekly", "frequency": "weekly", "hour": 7, "timezone": "Asia/Seoul"})
    wid = weekly.json()["id"]
    changed = api.put(f"{SCHEDULES}{wid}/", json={"minute": 45, "is_active": False})
    assert changed.status_code == 200 and changed.json()["description"].endswith(
        "07:45 Asia/Seoul, target interventions, inactive"
    )
    legacy = api.put(SCHEDULES, json={"id": wid, "hour": 8})  # the legacy form: the id in the body
    assert legacy.status_code == 200 and (legacy.json()["hour"], legacy.json()["minute"]) == (8, 45)
    assert api.put(SCHEDULES, json={"hour": 8}).status_code == 422  # which one?
    assert api.put(f"{SCHEDULES}{wid}/", json={}).status_code == 422  # nothing to change
    assert api.put(f"{SCHEDULES}{wid}/", json={"name": "nightly"}).status_code == 409
    assert api.put(f"{SCHEDULES}{wid}/", json={"hour": -1}).status_code == 422
    assert api.put(f"{SCHEDULES}9999/", json={"hour": 1}).status_code == 404
    assert api.get(f"{SCHEDULES}{wid}/").json()["hour"] == 8

    spare = api.post(SCHEDULES, json={"name": "spare", "frequency": "monthly", "hour": 0}).json()
    assert api.delete(SCHEDULES, params={"id": spare["id"]}).json()["name"] == "spare"
    assert api.delete(f"{SCHEDULES}{spare['id']}/").status_code == 404
    assert api.delete(SCHEDULES).status_code == 422
    listed = api.get(SCHEDULES).json()["schedules"]
    assert [(s["name"], s["hour"], s["is_active"]) for s in listed] == [("nightly", 9, True), ("weekly", 8, False)]
    # what the API wrote is what the sensor and the CLI read
    with deployment.warehouse.engine.connect() as conn:
        names = conn.exec_driver_sql(f"SELECT name FROM {PREFIX}batch_schedules ORDER BY id").scalars().all()
    assert names == ["nightly", "weekly"]


def _run(api, **body):
    return api.post("/api/batch/run/", json=body or None)


def test_a_run_is_launched_through_dagster_once_per_day(deployment, api):
    day = "2026-11-20"
    first = _run(api, date=day)
    assert first.status_code == 202, first.text
    launched = first.json()
    assert launched["launched"] is True and launched["date"] == day and launched["job"] == "interventions_job"
    with deployment.instance() as instance:  # a real run, in the instance the webserver writes to
        run = instance.get_run_by_id(launched["run_id"])
        assert run.job_name == "interventions_job" and run.status == dg.DagsterRunStatus.QUEUED
        assert run.tags["dagster/partition"] == day and run.tags["alt42/launched_by"] == "api"
        assert run.tags["alt42/serial"] == "interventions"  # the job's own tags came along

    again = _run(api, date=day)
    assert again.status_code == 200 and again.json() | {"launched": True} == launched
    assert again.json()["launched"] is False

    def launch(_):
        with deployment.client() as client:
            return _run(client, date="2026-11-21")

    with ThreadPoolExecutor(4) as pool:  # four clients at once: one run
        answers = list(pool.map(launch, range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202]
    assert len({a.json()["run_id"] for a in answers}) == 1

    default = _run(api)
    assert default.status_code == 202 and default.json()["date"] == YESTERDAY.isoformat()
    with deployment.instance() as instance:
        runs = instance.get_run_records(filters=dg.RunsFilter(job_name="interventions_job"))
        assert len(runs) == 3

    tomorrow = _run(api, date=(YESTERDAY + dt.timedelta(days=2)).isoformat())
    assert tomorrow.status_code == 422 and _loc(tomorrow) == ["date"] and "has not ended" in tomorrow.text
    assert _run(api, date="2024-12-31").status_code == 422  # before the first partition
    assert _loc(_run(api, date="the 20th")) == ["date"]
    assert _loc(_run(api, date=20261120)) == ["date"]


def test_batch_run_on_the_command_line_takes_the_same_path(deployment_env, capsys):
    assert main(["batch-run", "--date", "2026-11-20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("a run for 2026-11-20 is already QUEUED:")
    assert main(["batch-run", "--date", "2026-11-19"]) == 0
    run_id = capsys.readouterr().out.split()[2]
    with deployment_env.instance() as instance:
        assert instance.get_run_by_id(run_id).tags["alt42/launched_by"] == "cli"
    assert main(["batch-run", "--date", "2099-01-01"]) == 2
    assert "has not ended yet" in capsys.readouterr().err


def test_status_lists_the_latest_runs_per_schedule_with_their_counts(deployment_env, api, capsys):
    wh = deployment_env.warehouse
    day = dt.date(2026, 11, 18)
    write_events(wh, day_of_study(1, day, [True]) + day_of_study(2, day, [True], others=()))
    nightly = next(s for s in api.get(SCHEDULES).json()["schedules"] if s["name"] == "nightly")
    resources = make_resources(wh.url) | {"warehouse": WarehouseResource(url=wh.url, table_prefix=PREFIX)}
    defs = dg.Definitions(assets=[interventions], jobs=[interventions_job], resources=resources)
    tags = {"alt42/schedule": "nightly", "alt42/schedule_id": str(nightly["id"])}
    with deployment_env.instance() as instance:  # a scheduled run, done
        done = defs.resolve_job_def("interventions_job").execute_in_process(
            instance=instance, partition_key=day.isoformat(), tags=tags
        )
    assert done.success

    status = api.get("/api/batch/status/", params={"limit": 5})
    assert status.status_code == 200
    groups = {g["label"]: g for g in status.json()["groups"]}
    assert list(groups) == ["schedule nightly", "schedule weekly", "manual"]
    [ran] = groups["schedule nightly"]["runs"]
    assert (ran["run_id"], ran["status"], ran["partition"], ran["trigger"]) == (
        done.run_id,
        "SUCCESS",
        "2026-11-18",
        "nightly",
    )
    assert ran["counts"] == {
        "processed": 1,
        "skipped_missing_records": 1,
        "skipped_duplicate": 0,
        "failed": 0,
        "skipped": 1,
    }
    assert ran["written"] == {"interventions": 1, "errors": 0}  # from the warehouse
    assert groups["schedule weekly"]["runs"] == []
    manual = groups["manual"]["runs"]
    assert len(manual) == 4 and {r["status"] for r in manual} == {"QUEUED"}
    assert {r["launched_by"] for r in manual} == {"api", "cli"} and manual[0]["counts"]["processed"] is None
    assert api.get("/api/batch/status/", params={"limit": 0}).status_code == 422

    # the command line shows the same
    assert main(["batch-status", "--limit", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("schedule nightly (id ") and lines[0].endswith("latest 1 run")
    assert lines[2].split()[:4] == [done.run_id[:8], "SUCCESS", "2026-11-18", "nightly"]
    assert lines[2].split()[6:] == ["1", "1", "0", "1", "0"]  # processed skipped failed written errors
    assert any(line.startswith("manual: latest 4 runs") for line in lines)


def test_sync_shows_what_the_sensor_will_do_and_whether_it_runs(deployment, api):
    synced = api.post("/api/batch/sync/")
    assert synced.status_code == 200
    body = synced.json()
    sensor = body["sensor"]
    # on by default in code, but no daemon has ever ticked it here
    assert (sensor["name"], sensor["status"], sensor["status_from_code"]) == ("db_schedule_sensor", "RUNNING", True)
    assert sensor["running"] is False and "daemon is not running" in sensor["message"]
    views = {v["schedule"]["name"]: v for v in body["schedules"]}
    nightly, weekly = views["nightly"], views["weekly"]
    assert weekly["next_due_at"] is None and weekly["skipped_because"] == "inactive"
    due = dt.datetime.fromisoformat(nightly["next_due_at"])
    checked = dt.datetime.fromisoformat(body["checked_at"])
    assert due.time() == dt.time(9, 0) and dt.timedelta(0) < due - checked <= dt.timedelta(days=1)
    assert nightly["pending"] is False and dt.date.fromisoformat(nightly["partition"]) == due.date() - dt.timedelta(
        days=1
    )

    # the daemon comes up (its heartbeats, as dagster-daemon writes them): the sensor runs
    with deployment.instance() as instance:
        for daemon_type in instance.get_required_daemon_types():
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), daemon_type, "test-daemon", []))
    sensor = api.post("/api/batch/sync/").json()["sensor"]
    assert sensor["running"] is True and sensor["message"].startswith("db_schedule_sensor is running")

    # someone turns the sensor off in the UI (the same GraphQL mutation): sync says so
    selector = {"repositoryLocationName": "alt42_pipeline", "repositoryName": "__repository__"}
    found = _graphql(
        deployment,
        "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor { id } } }",
        {"s": selector | {"sensorName": "db_schedule_sensor"}},
    )
    stopped = _graphql(
        deployment,
        "mutation($id: String!) { stopSensor(id: $id) { __typename } }",
        {"id": found["sensorOrError"]["id"]},
    )
    assert stopped["stopSensor"]["__typename"] == "StopSensorMutationResult"
    sensor = api.post("/api/batch/sync/").json()["sensor"]
    assert (sensor["status"], sensor["status_from_code"], sensor["running"]) == ("STOPPED", False, False)
    assert sensor["message"].startswith("db_schedule_sensor is stopped: no schedule is launched")


def _graphql(deployment, query: str, variables: dict) -> dict:
    answer = httpx.post(f"{deployment.dagster_url}/graphql", json={"query": query, "variables": variables}, timeout=60)
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def test_status_without_dagster_home_is_one_clear_line(deployment_env, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.chdir(tmp_path)  # and no demo's .dagster_home here either
    assert main(["batch-status"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("error: DAGSTER_HOME is not set")
    assert main(["batch-run", "--date", "2026-11-20"]) == 2
    assert capsys.readouterr().err.startswith("error: DAGSTER_HOME is not set")


def test_the_token_never_reaches_the_server_log(deployment):
    log = deployment.api_log.read_text()
    assert "401" in log and "/api/batch/schedule/" in log  # the access log was written
    assert TOKEN not in log and TOKEN[:12] not in log
