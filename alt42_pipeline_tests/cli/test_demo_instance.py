"""The demo instance has run monitoring: a run whose process is killed is marked failed
(a real Dagster instance, a real run process, SIGKILL, the monitoring daemon's iteration)."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import PythonFileTarget
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

from alt42_pipeline.cli import DEMO_INSTANCE, write_demo_instance

from .killed_run_job import killed_run_job

JOB_FILE = Path(__file__).with_name("killed_run_job.py")


def test_the_demo_writes_monitoring_into_its_instance_and_keeps_an_operators_file(tmp_path):
    path = write_demo_instance(tmp_path / "home")
    assert yaml.safe_load(path.read_text())["run_monitoring"]["enabled"] is True
    old = tmp_path / "old"
    old.mkdir()
    (old / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # what earlier demos wrote
    assert write_demo_instance(old).read_text() == DEMO_INSTANCE
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    assert write_demo_instance(mine).read_text() == "telemetry:\n  enabled: true\n"


def test_a_killed_run_is_marked_failed(tmp_path, monkeypatch):
    config = yaml.safe_load(write_demo_instance(tmp_path / "home").read_text())
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("ALT42_TEST_PID_FILE", str(pid_file))
    with dg.instance_for_test(overrides=config) as instance:  # the demo's dagster.yaml
        assert instance.run_monitoring_enabled
        target = PythonFileTarget(
            str(JOB_FILE), attribute=None, working_directory=str(JOB_FILE.parent), location_name="t"
        )
        with create_test_daemon_workspace_context(target, instance) as context:
            location = next(iter(context.create_request_context().get_code_location_entries().values())).code_location
            repo = next(iter(location.get_repositories().values()))
            remote_job = repo.get_full_job("killed_run_job")
            run = instance.create_run_for_job(
                job_def=killed_run_job,
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
                tags={"dagster/max_runtime": "3"},
            )
            instance.launch_run(run.run_id, context.create_request_context())
            deadline = time.monotonic() + 60
            while not pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
            worker, step = (int(pid) for pid in pid_file.read_text().split())
            server = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])
            # the machine loses the code server and the run worker at once (kill -9, OOM
            # killer, a restarted host): nobody is left to report the run's end
            for pid in (server, worker, step):
                os.kill(pid, signal.SIGKILL)
            time.sleep(1)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # nobody noticed
            logger = logging.getLogger("run_monitoring_test")
            while time.monotonic() < deadline:
                list(execute_run_monitoring_iteration(context, logger))
                if instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE:
                    break
                time.sleep(0.5)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
