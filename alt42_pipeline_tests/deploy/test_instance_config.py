"""Both instance configurations are valid for Dagster, and they carry the same policies.

``dagster.yaml`` (single host) and what the Helm chart renders from ``helm/values.yaml``
(Kubernetes) are validated by Dagster's own instance-config schema and by the config types of
the classes they name (K8sRunLauncher, QueuedRunCoordinator).
"""

from __future__ import annotations

import pytest
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config_schema
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s import K8sRunLauncher

from . import chart


def _errors(result) -> list[str]:
    return [error.message for error in result.errors or []]


@pytest.fixture(scope="module")
def dagster_yaml():
    return chart.load_dagster_yaml()


@pytest.fixture(scope="module")
def chart_instance(helm_values):
    return chart.instance_config(helm_values)


def test_dagster_yaml_is_a_valid_instance_config(dagster_yaml):
    result = validate_config(dagster_instance_config_schema(), dagster_yaml)
    assert result.success, _errors(result)


def test_the_schema_rejects_a_misspelt_policy(dagster_yaml):
    broken = {**dagster_yaml, "run_monitoring": {"enabled": True, "max_runtime": 60}}
    assert not validate_config(dagster_instance_config_schema(), broken).success


def test_chart_rendered_instance_config_is_valid(chart_instance):
    result = validate_config(dagster_instance_config_schema(), chart_instance)
    assert result.success, _errors(result)


def test_run_launcher_config_is_valid_for_the_k8s_run_launcher(chart_instance):
    result = validate_config(K8sRunLauncher.config_type(), chart_instance["run_launcher"]["config"])
    assert result.success, _errors(result)


def test_run_coordinator_config_is_valid_for_the_queued_coordinator(chart_instance):
    result = validate_config(QueuedRunCoordinator.config_type(), chart_instance["run_coordinator"]["config"])
    assert result.success, _errors(result)


def test_run_queue_limits_agree(dagster_yaml, chart_instance):
    runs = dagster_yaml["concurrency"]["runs"]
    queue = chart_instance["run_coordinator"]["config"]
    assert queue["max_concurrent_runs"] == runs["max_concurrent_runs"]
    assert queue["tag_concurrency_limits"] == runs["tag_concurrency_limits"]


@pytest.mark.parametrize("block", ["run_monitoring", "run_retries", "telemetry"])
def test_policy_blocks_agree(block, dagster_yaml, chart_instance):
    assert chart_instance[block] == dagster_yaml[block]


def test_the_chart_does_not_write_monitoring_or_retries_twice(helm_values):
    """The blocks come from additionalInstanceConfig; the chart's own must stay off."""
    daemon = helm_values["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] is False
    assert daemon["runRetries"]["enabled"] is False
    assert {"run_monitoring", "run_retries"} <= set(helm_values["additionalInstanceConfig"])
