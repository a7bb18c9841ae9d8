"""What Dagster's Helm chart renders from helm/values.yaml, for the tests (no `helm` binary here).

The chart turns its camelCase values into the instance's ``dagster.yaml`` (run launcher, run
coordinator) and appends ``additionalInstanceConfig`` verbatim (run monitoring, run retries);
these functions do the same for the keys we set, so that Dagster's own config schemas can
validate the result offline. Names the chart
derives from the release (service account, instance ConfigMap, run env ConfigMap) are given
for the release name and namespace the deploy guide uses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
VALUES_FILE = REPO / "helm" / "values.yaml"
DAGSTER_YAML = REPO / "deploy" / "dagster.yaml"

#: Release name and namespace of helm/README.md (`helm upgrade --install dagster ... -n alt42`).
RELEASE = "dagster"
NAMESPACE = "alt42"
#: The chart's DAGSTER_HOME (its `global.dagsterHome` default).
DAGSTER_HOME = "/opt/dagster/dagster_home"


def load_values() -> dict[str, Any]:
    return yaml.safe_load(VALUES_FILE.read_text())


def load_dagster_yaml() -> dict[str, Any]:
    return yaml.safe_load(DAGSTER_YAML.read_text())


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def user_deployment(values: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def user_code_image(values: dict[str, Any]) -> str:
    """The image the code server reports to Dagster, hence the image of every run pod."""
    image = user_deployment(values)["image"]
    return f"{image['repository']}:{image['tag']}"


def _names(refs: list[dict[str, str]] | None) -> list[str]:
    return [ref["name"] for ref in refs or []]


#: The k8sRunLauncher values this module knows how the chart renders.
_LAUNCHER_KEYS = {
    "jobNamespace",
    "loadInclusterConfig",
    "imagePullPolicy",
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "volumeMounts",
    "volumes",
    "failPodOnRunFailure",
    "runK8sConfig",
}


def run_launcher_config(values: dict[str, Any]) -> dict[str, Any]:
    """The ``run_launcher.config`` of the instance the chart renders for the K8sRunLauncher."""
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    cfg = launcher["config"]["k8sRunLauncher"]
    unknown = set(cfg) - _LAUNCHER_KEYS
    assert not unknown, f"teach chart.run_launcher_config how the chart renders {unknown}"
    config: dict[str, Any] = {
        "load_incluster_config": cfg["loadInclusterConfig"],
        "job_namespace": cfg.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": cfg["imagePullPolicy"],
        "service_account_name": RELEASE,
        "dagster_home": DAGSTER_HOME,
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
        # The chart always adds its own run env ConfigMap (DAGSTER_HOME etc.) first.
        "env_config_maps": [f"{RELEASE}-pipeline-env", *_names(cfg.get("envConfigMaps"))],
        "env_secrets": _names(cfg.get("envSecrets")),
        "env_vars": cfg.get("envVars") or [],
        "volume_mounts": cfg.get("volumeMounts") or [],
        "volumes": cfg.get("volumes") or [],
    }
    if cfg.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    if cfg.get("runK8sConfig"):
        config["run_k8s_config"] = {snake(k): v for k, v in cfg["runK8sConfig"].items() if v}
    return config


def instance_config(values: dict[str, Any]) -> dict[str, Any]:
    """The parts of the chart's rendered ``dagster.yaml`` that our values decide.

    Run monitoring and run retries come from ``additionalInstanceConfig`` (appended verbatim);
    the chart writes its own blocks only when ``dagsterDaemon.runMonitoring/runRetries`` are
    enabled, which would give the instance yaml duplicate keys.
    """
    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    additional = values.get("additionalInstanceConfig") or {}
    for block, chart_key in (("run_monitoring", "runMonitoring"), ("run_retries", "runRetries")):
        assert not (block in additional and daemon[chart_key]["enabled"]), f"{block} written twice"
    return {
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": run_launcher_config(values),
        },
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {snake(k): v for k, v in coordinator["config"]["queuedRunCoordinator"].items()},
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        **additional,
    }
