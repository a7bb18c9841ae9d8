"""Finding 8: the demo looks like production in the UI. It launches the code location's own
jobs (runs carry their names and tags), its partitions start where its data starts (every
daily partition materialized), the current week is left out (or marked partial), and the
summary says where the web UI is.

One real ``python -m alt42_pipeline demo`` in a subprocess (the command is what is tested,
and the code location must load with the demo's partitions start)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from alt42_pipeline.demo import DemoConfig
from alt42_pipeline.spine import week_start

ROOT = Path(__file__).resolve().parents[2]
DEMO = DemoConfig(students=150, days=7, seed=7)  # ends yesterday, like the real demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALT42_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(folder / "home"), "ALT42_DATA_DIR": str(folder / "data")}
    args = ["--students", str(DEMO.students), "--days", str(DEMO.days), "--seed", str(DEMO.seed)]
    proc = subprocess.run(
        [sys.executable, "-m", "alt42_pipeline", "demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    instance = dg.DagsterInstance.from_config(str(folder / "home"))
    try:
        yield proc.stdout, instance, folder / "data"
    finally:
        instance.dispose()


def test_runs_are_the_code_locations_jobs_with_their_tags(demo):
    from alt42_pipeline_tests.deploy.jobs import real_jobs

    _, instance, _ = demo
    runs = instance.get_runs()
    jobs = {job.name for job in real_jobs()}
    assert runs and {run.job_name for run in runs} <= jobs
    for run in runs:
        assert run.tags.get("alt42/pod-size"), f"{run.job_name} runs without its pod size"


def test_the_partitions_start_where_the_data_starts_and_are_all_materialized(demo):
    _, instance, data = demo
    env = dict(line.split("=", 1) for line in (data / "demo.env").read_text().splitlines() if "=" in line)
    assert env["ALT42_PARTITIONS_START"] == DEMO.first_day.isoformat()
    daily = dg.DailyPartitionsDefinition(start_date=env["ALT42_PARTITIONS_START"])
    every_day = set(daily.get_partition_keys())  # up to now, as the UI counts them
    assert every_day == {(DEMO.first_day + dt.timedelta(days=i)).isoformat() for i in range(DEMO.days)}
    for asset in ("events", "features_topic_daily", "interventions"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == every_day, asset


def test_the_unfinished_week_is_left_out_and_partial_weeks_say_so(demo):
    stdout, instance, _ = demo
    current = week_start(DEMO.last_day + dt.timedelta(days=1))
    for asset in ("weekly_kpi", "weekly_report"):
        weeks = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert weeks and all(dt.date.fromisoformat(w) < current for w in weeks), (asset, weeks)
    if week_start(DEMO.last_day) == current:  # the demo ends on a Sunday: no week is unfinished
        return
    assert "weeks left out:" in stdout
    records = instance.fetch_materializations(dg.AssetKey("weekly_kpi"), limit=20).records
    for record in records:
        metadata = record.asset_materialization.metadata
        assert metadata["complete"].value == (metadata["days"].value == 7)


def test_the_summary_says_where_the_web_ui_is(demo):
    stdout, _, _ = demo
    assert "http://127.0.0.1:3000" in stdout and "make dev" in stdout
    assert "FAIL" not in stdout
