"""A Dagster instance whose run launcher is the K8sRunLauncher configured from helm/values.yaml.

Launching a run on it goes through dagster-k8s's own code (container context from the
launcher config and the run's tags, ``construct_dagster_k8s_job``); only the Kubernetes API
call is replaced, so the test gets the exact Job manifest the cluster would receive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import dagster as dg
import kubernetes
import pytest
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.test_utils import create_run_for_test

from . import chart

# A cluster the client never contacts (the API call is mocked): the launcher only needs to
# load *a* kubeconfig, since no in-cluster credentials exist here.
_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: offline, user: {token: unused}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


@pytest.fixture(scope="session")
def helm_values() -> dict[str, Any]:
    return chart.load_values()


@pytest.fixture(scope="session")
def k8s_instance(helm_values, tmp_path_factory) -> Iterator[dg.DagsterInstance]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(_KUBECONFIG)
    config = {
        **chart.run_launcher_config(helm_values),
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    launcher = {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}
    # set_dagster_home=False: the session-long instance must not change DAGSTER_HOME for other tests.
    with dg.instance_for_test(overrides={"run_launcher": launcher}, set_dagster_home=False) as instance:
        yield instance


@pytest.fixture(scope="session")
def run_pod_manifest(k8s_instance, helm_values) -> Callable[[dg.JobDefinition], dict[str, Any]]:
    """The Kubernetes Job (as a plain dict) that launching a run of ``job`` creates."""
    origin = RepositoryPythonOrigin(
        executable_path="python",
        code_pointer=ModuleCodePointer("alt42_pipeline.definitions", "defs", working_directory=None),
        container_image=chart.user_code_image(helm_values),
    )

    def launch(job: dg.JobDefinition) -> dict[str, Any]:
        run = create_run_for_test(
            k8s_instance,
            job_name=job.name,
            tags=job.run_tags,
            job_code_origin=JobPythonOrigin(job.name, origin),
        )
        with mock.patch.object(kubernetes.client.BatchV1Api, "create_namespaced_job") as create:
            k8s_instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        (call,) = create.call_args_list
        assert call.kwargs["namespace"] == chart.NAMESPACE
        return kubernetes.client.ApiClient().sanitize_for_serialization(call.kwargs["body"])

    return launch
