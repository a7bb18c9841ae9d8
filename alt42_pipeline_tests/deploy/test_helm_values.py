"""helm/values.yaml and the settings ConfigMap: the user-code deployment, secrets by name only,
external PostgreSQL, pod security and resources."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import kubernetes_validate
import pytest
import yaml

from . import chart
from .expected import KUBERNETES_VERSION, REQUIRED_SECRETS, SETTINGS_CONFIG_MAP

SETTINGS_FILE = chart.REPO / "helm" / "alt42-settings.yaml"
SECRET_KEY = re.compile(r"password|token|apikey|api_key|secret(?!name)", re.I)


@pytest.fixture(scope="module")
def deployment(helm_values) -> dict[str, Any]:
    return chart.user_deployment(helm_values)


def _code_server_pod(deployment: dict[str, Any]) -> dict[str, Any]:
    """The pod fields the subchart copies from the deployment values, as a Pod manifest."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": deployment["name"]},
        "spec": {
            "securityContext": deployment["podSecurityContext"],
            "containers": [
                {
                    "name": "dagster-user-deployments",
                    "image": f"{deployment['image']['repository']}:{deployment['image']['tag']}",
                    "imagePullPolicy": deployment["image"]["pullPolicy"],
                    "securityContext": deployment["securityContext"],
                    "resources": deployment["resources"],
                    "volumeMounts": deployment["volumeMounts"],
                    "envFrom": [{"configMapRef": ref} for ref in deployment["envConfigMaps"]]
                    + [{"secretRef": ref} for ref in deployment["envSecrets"]],
                }
            ],
            "volumes": deployment["volumes"],
        },
    }


def test_code_server_pod_fields_are_valid_kubernetes(deployment):
    kubernetes_validate.validate(_code_server_pod(deployment), KUBERNETES_VERSION, strict=True)


def test_code_server_serves_the_code_location(deployment):
    module = tomllib.loads((chart.REPO / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert deployment["codeServerArgs"] == ["-m", module]
    assert deployment["image"]["tag"] not in {"", "latest"}


def test_code_server_is_non_root_read_only_and_bounded(deployment):
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    assert deployment["podSecurityContext"]["runAsUser"] != 0
    assert deployment["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["securityContext"]["allowPrivilegeEscalation"] is False
    for kind in ("requests", "limits"):
        assert set(deployment["resources"][kind]) == {"cpu", "memory"}
    (tmp,) = [m for m in deployment["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert any(v["name"] == tmp["name"] and "emptyDir" in v for v in deployment["volumes"])


def test_code_server_and_runs_get_the_same_settings_and_secrets(deployment, helm_values):
    # Sensors and schedules run in the code server; their runs in pods of the run launcher.
    launcher = helm_values["runLauncher"]["config"]["k8sRunLauncher"]
    assert deployment["envSecrets"] == launcher["envSecrets"]
    assert deployment["envConfigMaps"] == launcher["envConfigMaps"]
    assert REQUIRED_SECRETS <= {ref["name"] for ref in deployment["envSecrets"]}
    # Runs take their pod from the launcher and the job's size, not from the code server.
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is False


@pytest.mark.parametrize("component", ["dagsterWebserver", "dagsterDaemon"])
def test_dagster_services_have_resource_requests_and_limits(component, helm_values):
    resources = helm_values[component]["resources"]
    for kind in ("requests", "limits"):
        assert set(resources[kind]) == {"cpu", "memory"}


def test_dagster_storage_is_an_external_postgres_with_a_secret_password(helm_values):
    postgresql = helm_values["postgresql"]
    assert postgresql["enabled"] is False
    assert postgresql["postgresqlHost"]
    assert helm_values["generatePostgresqlPasswordSecret"] is False
    assert helm_values["global"]["postgresqlSecretName"]


def _literal_secrets(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            where = f"{path}.{key}"
            if SECRET_KEY.search(str(key)) and isinstance(value, str) and value:
                found.append(where)
            found += _literal_secrets(value, where)
        return found
    if isinstance(node, list):
        return [hit for i, item in enumerate(node) for hit in _literal_secrets(item, f"{path}[{i}]")]
    if isinstance(node, str) and re.search(r"://[^/\s:@]+:[^/\s@]+@", node):
        return [path]
    return []


def test_values_hold_no_secret(helm_values):
    assert _literal_secrets(helm_values) == []


def test_the_secret_check_catches_literal_secrets():
    values = {"postgresql": {"postgresqlPassword": "hunter2"}, "env": [{"value": "postgresql://u:p@h/db"}]}
    assert _literal_secrets(values) == [".postgresql.postgresqlPassword", ".env[0].value"]


def test_settings_configmap_is_valid_and_holds_only_plain_settings():
    configmap = yaml.safe_load(SETTINGS_FILE.read_text())
    kubernetes_validate.validate(configmap, KUBERNETES_VERSION, strict=True)
    assert configmap["metadata"]["name"] == SETTINGS_CONFIG_MAP
    known = set(re.findall(r'"(ALT42_\w+)"', (chart.REPO / "alt42_pipeline" / "settings.py").read_text()))
    assert set(configmap["data"]) <= known
    assert not [key for key in configmap["data"] if key.endswith("_URL") or SECRET_KEY.search(key)]


def test_deploy_guide_creates_every_secret_and_config_map_the_pods_read(helm_values, deployment):
    guide = (chart.REPO / "helm" / "README.md").read_text()
    secrets = {ref["name"] for ref in deployment["envSecrets"]} | {helm_values["global"]["postgresqlSecretName"]}
    for secret in secrets:
        assert f"kubectl create secret generic {secret} -n alt42" in guide, secret
    assert [ref["name"] for ref in deployment["envConfigMaps"]] == [SETTINGS_CONFIG_MAP]
    assert "kubectl apply -n alt42 -f helm/alt42-settings.yaml" in guide


@pytest.mark.parametrize("component", ["dagsterWebserver", "dagsterDaemon"])
def test_dagster_services_are_hardened(component, helm_values):
    values = helm_values[component]
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0 and container["runAsNonRoot"] is True
    assert container["readOnlyRootFilesystem"] is True and container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    (tmp,) = [m for m in values["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert any(v["name"] == tmp["name"] and "emptyDir" in v for v in values["volumes"])


def test_the_web_ui_listens_on_an_unprivileged_port(helm_values):
    assert helm_values["dagsterWebserver"]["service"]["port"] > 1024
    assert "8080:8080" in (chart.REPO / "helm" / "README.md").read_text()


def test_run_pods_mount_no_service_account_token(helm_values):
    from alt42_pipeline.defs.shared import SIZES, k8s_config

    launcher = helm_values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert launcher["podSpecConfig"]["automount_service_account_token"] is False
    for size in SIZES:
        assert k8s_config(size)["pod_spec_config"]["automount_service_account_token"] is False


def test_network_policies_are_valid_and_select_the_pods_the_chart_makes():
    docs = list(yaml.safe_load_all((chart.REPO / "helm" / "network-policy.yaml").read_text()))
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    deny = [d for d in docs if d["spec"]["podSelector"] == {}]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny[0]["spec"]
    (code,) = [d for d in docs if d["spec"]["podSelector"].get("matchLabels") == {"component": "user-deployments"}]
    ports = [p["port"] for rule in code["spec"]["ingress"] for p in rule["ports"]]
    assert ports == [chart.user_deployment(chart.load_values())["port"]]
