"""helm/alt42-api.yaml: the batch management API's Deployment and Service, valid Kubernetes,
hardened like the chart's other pods, wired to the settings, the chart's instance and webserver."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from alt42_pipeline import settings

from . import chart
from .expected import KUBERNETES_VERSION, REQUIRED_SECRETS, SETTINGS_CONFIG_MAP
from .test_helm_values import _literal_secrets

MANIFEST = chart.REPO / "helm" / "alt42-api.yaml"


@pytest.fixture(scope="module")
def all_documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(MANIFEST.read_text()))


@pytest.fixture(scope="module")
def documents(all_documents) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in all_documents if doc["kind"] != "NetworkPolicy"}


@pytest.fixture(scope="module")
def policies(all_documents) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in all_documents if doc["kind"] == "NetworkPolicy"}


@pytest.fixture(scope="module")
def pod(documents) -> dict[str, Any]:
    return documents["Deployment"]["spec"]["template"]


@pytest.fixture(scope="module")
def container(pod) -> dict[str, Any]:
    (only,) = pod["spec"]["containers"]
    return only


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_a_deployment_a_service_and_their_network_policies_of_valid_kubernetes(all_documents, documents):
    assert set(documents) == {"Deployment", "Service"}
    for document in all_documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_beside_the_default_deny_clients_reach_the_api_and_the_api_reaches_the_web_ui(
    policies, pod, container, helm_values
):
    api_labels = pod["metadata"]["labels"]
    clients = policies["alt42-api-from-clients"]["spec"]
    assert clients["podSelector"]["matchLabels"].items() <= api_labels.items()
    assert [p["port"] for rule in clients["ingress"] for p in rule["ports"]] == [container["ports"][0]["containerPort"]]
    web = policies["alt42-webserver-from-api"]["spec"]
    # the chart's webserver pods, as network-policy.yaml selects them
    shared = list(yaml.safe_load_all((chart.REPO / "helm" / "network-policy.yaml").read_text()))
    webserver = {"component": "dagster-webserver"}
    assert any(
        webserver
        in [s.get("podSelector", {}).get("matchLabels") for r in d["spec"].get("ingress", []) for s in r["from"]]
        for d in shared
    )
    assert web["podSelector"]["matchLabels"] == webserver
    (rule,) = web["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"].items() <= api_labels.items()
    assert [p["port"] for p in rule["ports"]] == [helm_values["dagsterWebserver"]["service"]["port"]]


def test_the_pod_is_non_root_read_only_without_capabilities_or_token(pod, container):
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]  # the only writable path


def test_it_runs_the_api_from_the_user_code_image_and_is_probed_on_healthz(container, helm_values):
    assert container["image"] == chart.user_code_image(helm_values)
    assert container["command"][:2] == ["alt42", "api"]
    (port,) = container["ports"]
    assert str(port["containerPort"]) == _env(container)["ALT42_API_PORT"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}


def test_the_service_reaches_the_pods_port(documents, pod, container):
    service = documents["Service"]["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert documents["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["ports"]
    assert port["targetPort"] == container["ports"][0]["name"]


def test_it_reads_the_settings_the_token_and_the_charts_instance(pod, container, helm_values):
    env = _env(container)
    refs = container["envFrom"]
    assert {"configMapRef": {"name": SETTINGS_CONFIG_MAP}} in refs
    secrets = {r["secretRef"]["name"] for r in refs if "secretRef" in r}
    assert REQUIRED_SECRETS | {"alt42-api"} <= secrets
    # every variable set here is a setting the code reads (no typo goes unnoticed)
    known = set(settings.ENVIRONMENT) | {"DAGSTER_HOME", "DAGSTER_PG_PASSWORD"}
    assert set(env) <= known
    # the chart's webserver Service (release name + "-webserver", its port) and its instance
    port = helm_values["dagsterWebserver"]["service"]["port"]
    assert env["ALT42_DAGSTER_URL"] == f"http://{chart.RELEASE}-webserver:{port}"
    settings.ApiSettings(dagster_url=env["ALT42_DAGSTER_URL"])  # a URL the setting accepts
    assert env["DAGSTER_HOME"] == chart.DAGSTER_HOME
    password = env["DAGSTER_PG_PASSWORD"]["secretKeyRef"]
    assert password == {"name": helm_values["global"]["postgresqlSecretName"], "key": "postgresql-password"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes[mounts[chart.DAGSTER_HOME]]["configMap"]["name"] == f"{chart.RELEASE}-instance"


def test_the_manifest_holds_no_secret_and_the_guide_creates_the_token(documents):
    assert _literal_secrets(list(documents.values())) == []
    guide = (chart.REPO / "helm" / "README.md").read_text()
    assert "kubectl create secret generic alt42-api -n alt42" in guide
    assert "kubectl apply -n alt42 -f helm/alt42-api.yaml" in guide
