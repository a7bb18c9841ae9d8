"""``alt42 heartbeat [--dry-run]``: one heartbeat outside Dagster, printing the legacy JSON."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import dagster as dg
import pandas as pd

from alt42_pipeline import clock, settings
from alt42_pipeline.cli import main
from alt42_pipeline.defs import state as state_defs
from alt42_pipeline.state import LEGACY_KEYS
from alt42_pipeline_tests.conftest import make_resources
from alt42_pipeline_tests.servers import ROOT, clean_env
from alt42_pipeline_tests.state.factories import NOW, add_events, answers

M = dt.timedelta(minutes=1)


def test_the_command_prints_exactly_the_legacy_json_which_is_its_log_row(warehouse, tmp_path):
    real_now = clock.utcnow()  # the command runs in a process of its own, on the real clock
    add_events(warehouse, answers(1, real_now - M, 5, 1) + answers(2, real_now - 9 * 24 * 60 * M, 1, 0))
    env = clean_env(ALT42_WAREHOUSE_URL=warehouse.url, ALT42_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "alt42_pipeline", "heartbeat"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert tuple(printed) == LEGACY_KEYS  # these keys, in this order, nothing else
    assert printed["success"] is True and printed["students_processed"] == 2 and printed["errors"] == 0
    assert printed["results"]["states"] == {"active": 1, "idle": 1, "inactive": 0, "at_risk": 0}
    assert printed["results"]["events_consumed"] == 7 and printed["results"]["dry_run"] is False
    [row] = warehouse.read("heartbeat_log").itertuples()
    assert row.summary == printed and pd.isna(row.run_id)  # outside Dagster: no run
    assert "Traceback" not in done.stderr


def test_a_dry_run_writes_nothing_and_leaves_the_trace_the_health_check_reads(sqlite_warehouse, monkeypatch, capsys):
    monkeypatch.setenv("ALT42_WAREHOUSE_URL", sqlite_warehouse.url)
    add_events(sqlite_warehouse, answers(1, NOW - M, 3, 0))
    with dg.instance_for_test() as instance:  # DAGSTER_HOME is this instance
        with clock.frozen(NOW):
            watching = state_defs.pipeline_health_sensor(
                dg.build_sensor_context(instance=instance, resources=make_resources(sqlite_warehouse.url))
            ).cursor
        with clock.frozen(NOW + 50 * M):
            assert main(["heartbeat", "--dry-run"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["results"]["dry_run"] is True and printed["students_processed"] == 1
        for table in ("heartbeat_log", "student_state_cache", "event_processing_log", "state_change_log"):
            assert sqlite_warehouse.count(table) == 0, table
        [trace] = instance.fetch_observations(dg.AssetKey("heartbeat_log"), limit=5).records
        assert trace.asset_observation.metadata["results"].value == printed["results"]

        monkeypatch.setenv("ALT42_HEARTBEAT_DRY_RUN", "true")  # a deployment in dry-run mode
        settings.load.cache_clear()
        with clock.frozen(NOW + 55 * M):  # where the command never writes, even without --dry-run
            assert main(["heartbeat"]) == 0
        assert json.loads(capsys.readouterr().out)["results"]["dry_run"] is True
        assert sqlite_warehouse.count("heartbeat_log") == 0
        with clock.frozen(NOW + 61 * M):
            verdict = state_defs.pipeline_health_sensor(
                dg.build_sensor_context(
                    instance=instance, cursor=watching, resources=make_resources(sqlite_warehouse.url)
                )
            )
    assert "heartbeat healthy (last successful dry-run heartbeat at" in verdict.skip_reason.skip_message


def test_a_heartbeat_that_cannot_run_still_prints_its_json_and_fails(sqlite_warehouse, monkeypatch, tmp_path, capsys):
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: 1\nrules:\n  - id: x\n    when: [nonsense > 1]\n    at_risk: true\n")
    monkeypatch.setenv("ALT42_WAREHOUSE_URL", sqlite_warehouse.url)
    monkeypatch.setenv("ALT42_SCENARIOS_FILE", str(bad))
    assert main(["heartbeat"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert tuple(printed) == LEGACY_KEYS and printed["success"] is False and printed["errors"] == 1
    assert "rules.yaml:4" in printed["results"]["first_errors"][0]["error"]

    monkeypatch.delenv("ALT42_SCENARIOS_FILE")
    monkeypatch.setenv("ALT42_WAREHOUSE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/none")
    settings.load.cache_clear()
    assert main(["heartbeat"]) == 1
    printed = json.loads(capsys.readouterr().out)
    error = printed["results"]["first_errors"][0]["error"]
    assert printed["success"] is False and "cannot reach the warehouse (ALT42_WAREHOUSE_URL=" in error
