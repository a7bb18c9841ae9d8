"""The Kubernetes Job of every job's runs: valid for the Kubernetes API, right image, secrets,
resources and security settings.

Each manifest is the one dagster-k8s's K8sRunLauncher builds (see conftest.py), validated
against the Kubernetes OpenAPI schema by kubernetes-validate (strict: unknown fields fail).
Besides the real jobs of the code location, throwaway jobs of every size (and one without a
size) prove the path works before any real job exists.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import kubernetes_validate
import pytest

from alt42_pipeline.defs.shared import DEFAULT_SIZE, POD_SIZE_KEY, SIZES, k8s_config, k8s_tags, size_of

from . import chart
from .expected import KUBERNETES_VERSION, REQUIRED_SECRETS, SETTINGS_CONFIG_MAP
from .jobs import real_jobs, throwaway_job

THROWAWAY_JOBS = [throwaway_job(f"probe_{size}_job", k8s_tags(size)) for size in SIZES] + [
    throwaway_job("probe_untagged_job", {})
]


@pytest.fixture(scope="module", params=THROWAWAY_JOBS + real_jobs(), ids=lambda job: job.name)
def job(request) -> dg.JobDefinition:
    return request.param


@pytest.fixture(scope="module")
def manifest(job, run_pod_manifest) -> dict[str, Any]:
    return run_pod_manifest(job)


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return container


def test_manifest_is_a_valid_kubernetes_job(manifest):
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert manifest["kind"] == "Job"


def test_runs_the_user_code_image(manifest, helm_values):
    assert _container(manifest)["image"] == chart.user_code_image(helm_values)


def test_environment_comes_from_the_secrets_and_settings(manifest, helm_values):
    env_from = _container(manifest)["envFrom"]
    secrets = {source["secretRef"]["name"] for source in env_from if "secretRef" in source}
    config_maps = {source["configMapRef"]["name"] for source in env_from if "configMapRef" in source}
    assert REQUIRED_SECRETS <= secrets
    assert SETTINGS_CONFIG_MAP in config_maps
    # Dagster's own storage password: from its secret, never a literal value.
    (pg_password,) = [e for e in _container(manifest)["env"] if e["name"] == "DAGSTER_PG_PASSWORD"]
    assert pg_password["valueFrom"]["secretKeyRef"]["name"] == helm_values["global"]["postgresqlSecretName"]
    assert all("value" not in e or "PASSWORD" not in e["name"] for e in _container(manifest)["env"])


def test_resources_are_the_jobs_pod_size(job, manifest):
    size = size_of(job.run_tags) or DEFAULT_SIZE
    resources = _container(manifest)["resources"]
    assert resources == k8s_config(size)["container_config"]["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert manifest["spec"]["template"]["metadata"]["labels"][POD_SIZE_KEY] == size


def test_pod_runs_non_root_with_a_read_only_root_filesystem(manifest):
    pod = manifest["spec"]["template"]["spec"]
    container = _container(manifest)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # The only writable place is /tmp, an emptyDir of the pod; each volume is declared once.
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert len(volumes) == len(pod["volumes"])
    (tmp,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert "emptyDir" in volumes[tmp["name"]]
