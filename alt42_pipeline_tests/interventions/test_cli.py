"""The command line: ``python -m alt42_pipeline schedules ...`` and ``batch-status``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys

import dagster as dg
import pytest

from alt42_pipeline.cli.batch import add_commands, run_batch_status
from alt42_pipeline.defs.interventions import interventions, interventions_job
from alt42_pipeline.interventions.schedule_store import list_schedules
from alt42_pipeline_tests.conftest import make_resources

from .builders import day_of_study, write_events


def main(argv: list[str]) -> int:
    """The interventions subcommands under a parser of their own, as the package CLI mounts them."""
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def cli_warehouse(sqlite_warehouse, monkeypatch):
    monkeypatch.setenv("ALT42_WAREHOUSE_URL", sqlite_warehouse.url)
    return sqlite_warehouse


def test_schedules_crud_through_the_command_line(cli_warehouse, capsys):
    assert main(["schedules", "init"]) == 0
    assert "created default schedule" in capsys.readouterr().out
    assert main(["schedules", "add", "weekly", "--frequency", "weekly", "--hour", "7", "--timezone", "Asia/Seoul"]) == 0
    assert "every Sunday at 07:00 Asia/Seoul" in capsys.readouterr().out
    assert main(["schedules", "update", "weekly", "--inactive", "--minute", "45"]) == 0
    assert "07:45 Asia/Seoul, target interventions, inactive" in capsys.readouterr().out
    assert main(["schedules", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:7] == ["id", "name", "frequency", "time", "timezone", "active", "target"]
    assert listing[1].split()[:7] == ["1", "daily_interventions", "daily", "09:00", "UTC", "yes", "interventions"]
    assert listing[2].split()[:7] == ["2", "weekly", "weekly", "07:45", "Asia/Seoul", "no", "interventions"]
    assert main(["schedules", "delete", "1"]) == 0
    assert [s.name for s in list_schedules(cli_warehouse)] == ["weekly"]
    assert main(["schedules", "init"]) == 0 and main(["schedules", "init", "--force"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("created default schedule")


def test_bad_input_is_an_error_on_stderr_and_changes_nothing(cli_warehouse, capsys):
    main(["schedules", "add", "a", "--frequency", "daily", "--hour", "3"])
    capsys.readouterr()
    assert main(["schedules", "update", "a", "--hour", "31", "--timezone", "Nowhere/Land"]) == 2
    err = capsys.readouterr().err
    assert "hour must be an integer from 0 to 23" in err and "'Nowhere/Land' is not an IANA time zone" in err
    assert main(["schedules", "update", "a"]) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert main(["schedules", "delete", "zzz"]) == 2
    [schedule] = list_schedules(cli_warehouse)
    assert (schedule.hour, schedule.timezone) == (3, "UTC")
    with pytest.raises(SystemExit):
        main(["schedules", "add", "b", "--frequency", "hourly", "--hour", "1"])


def test_batch_status_prints_the_latest_runs_of_each_schedule_with_their_counts(cli_warehouse, capsys):
    day = dt.date(2026, 11, 20)
    write_events(cli_warehouse, day_of_study(1, day, [True]) + day_of_study(2, day, [True], others=()))
    main(["schedules", "add", "nightly", "--frequency", "daily", "--hour", "9"])
    capsys.readouterr()
    resources = make_resources(cli_warehouse.url)
    job = dg.Definitions(assets=[interventions], jobs=[interventions_job], resources=resources).resolve_job_def(
        "interventions_job"
    )
    with dg.instance_for_test() as instance:
        run_batch_status(argparse.Namespace(limit=5), instance=instance)
        assert capsys.readouterr().out.splitlines() == [
            "schedule nightly (id 1: every day at 09:00 UTC, target interventions, active): no runs yet",
            "manual: no runs yet",
        ]
        first = job.execute_in_process(
            instance=instance, partition_key=day.isoformat(), tags={"alt42/schedule": "nightly"}
        )
        second = job.execute_in_process(instance=instance, partition_key=day.isoformat())
        assert run_batch_status(argparse.Namespace(limit=5), instance=instance) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("): latest 1 run") and lines[3] == "manual: latest 1 run"
    # run, status, partition, trigger, date, time, processed, skipped, failed, written, errors
    assert lines[2].split()[:4] == [first.run_id[:8], "SUCCESS", "2026-11-20", "nightly"]
    assert lines[2].split()[6:] == ["1", "1", "0", "1", "0"]
    assert lines[5].split()[:4] == [second.run_id[:8], "SUCCESS", "2026-11-20", "manual"]
    # the second found a duplicate and a student short of records
    assert lines[5].split()[6:] == ["0", "2", "0", "0", "0"]

    # the runs of a schedule deleted since keep a group of their own
    with dg.instance_for_test() as instance:
        gone = job.execute_in_process(instance=instance, partition_key=day.isoformat(), tags={"alt42/schedule": "old"})
        run_batch_status(argparse.Namespace(limit=5), instance=instance)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3] == "schedule old (deleted): latest 1 run"
    assert lines[-1].split()[:4] == [gone.run_id[:8], "SUCCESS", "2026-11-20", "old"]


def test_python_dash_m_reaches_the_schedules_commands(sqlite_url, tmp_path):
    env = {**os.environ, "ALT42_WAREHOUSE_URL": sqlite_url, "ALT42_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "alt42_pipeline", "schedules", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no schedules" in done.stdout
