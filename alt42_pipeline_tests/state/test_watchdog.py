"""The watchdog's replacement: queued runs with a concurrency limit, run monitoring, retries.

The instance here takes its policies from the production ``dagster.yaml``; only the run
launcher is replaced by Dagster's recording test launcher (production launches pods).
"""

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from alt42_pipeline import definitions

defs = definitions.defs()

DAGSTER_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
QUEUED, STARTING = dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING


def _production_policies() -> dict:
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    return {key: config[key] for key in ("concurrency", "run_monitoring", "run_retries")}


@contextmanager
def _workspace(instance):
    """The real code location, loaded in process, as the daemon sees it."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="alt42_pipeline.definitions"), location_name="alt42_pipeline"
    )
    with create_test_daemon_workspace_context(InProcessTestWorkspaceLoadTarget(origin), instance) as context:
        yield context


def _submit(instance, context, job_name: str) -> str:
    """Submit a run of ``job_name`` the way the UI or a sensor does (it goes to the queue)."""
    workspace = context.create_request_context()
    location = workspace.get_code_location("alt42_pipeline")
    remote_job = location.get_repository("__repository__").get_full_job(job_name)
    job = defs.resolve_job_def(job_name)
    run = instance.create_run_for_job(
        job_def=job,
        tags=job.run_tags,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
    )
    return instance.submit_run(run.run_id, workspace).run_id


def _dequeue_once(context) -> None:
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))


def test_two_state_refreshes_never_run_at_once():
    overrides = {
        **_production_policies(),
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    }
    with dg.instance_for_test(overrides=overrides) as instance, _workspace(instance) as context:
        first, second = (_submit(instance, context, "state_refresh_job") for _ in range(2))
        other = _submit(instance, context, "inactivity_alert_job")
        assert {instance.get_run_by_id(r).status for r in (first, second, other)} == {QUEUED}
        _dequeue_once(context)
        status = {run_id: instance.get_run_by_id(run_id).status for run_id in (first, second, other)}
        assert {status[first], status[second]} == {STARTING, QUEUED}  # one runs, one waits
        assert status[other] == STARTING  # another serial key is not held back
        running = first if status[first] == STARTING else second
        waiting = second if running == first else first

        _dequeue_once(context)  # still running: the second keeps waiting in the queue
        assert instance.get_run_by_id(waiting).status == QUEUED

        instance.report_run_failed(instance.get_run_by_id(running))
        _dequeue_once(context)
        assert instance.get_run_by_id(waiting).status == STARTING
        assert [r.run_id for r in instance.run_launcher.queue()].count(waiting) == 1


def test_stuck_and_failed_runs_are_handled_by_the_instance_not_by_a_watchdog():
    policies = _production_policies()
    assert policies["run_monitoring"]["enabled"] and policies["run_monitoring"]["start_timeout_seconds"] <= 600
    assert policies["run_retries"]["enabled"] and 1 <= policies["run_retries"]["max_retries"] <= 5
    tags = defs.resolve_job_def("state_refresh_job").run_tags
    assert tags["alt42/serial"] == "state"
    # A heartbeat still running after its max runtime is stuck; it must end before the next slot piles up.
    assert 0 < int(tags["dagster/max_runtime"]) <= 30 * 60
    with dg.instance_for_test(overrides=policies) as instance:
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
        assert instance.run_monitoring_start_timeout_seconds == policies["run_monitoring"]["start_timeout_seconds"]
