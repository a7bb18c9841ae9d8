"""Named Kubernetes pod sizes for the runs of each job (used by dagster-k8s in production).

In production every run is a Kubernetes pod started by dagster-k8s's ``K8sRunLauncher``. The
pod's resources, security settings and labels come from the run's ``dagster-k8s/config`` tag;
this module is the one place that defines them, as a few named sizes:

``small``
    Light, frequent runs launched by sensors: the heartbeat / state refresh, inactivity
    detection, the batch-schedule sensor's runs.
``medium`` (``DEFAULT_SIZE``)
    Everything else: ingestion, features, KPIs, interventions, the weekly report.
``large``
    IRT calibration (numerical estimation over every attempt).

Every size runs as a non-root user with a read-only root filesystem, no privilege escalation,
all Linux capabilities dropped and the runtime's default seccomp profile; ``/tmp`` is a
writable ``emptyDir`` (temporary files, the matplotlib and numba caches). The pod carries the
label ``alt42/pod-size``, so ``kubectl get pods -l alt42/pod-size=large`` lists the big ones.

How a job gets its size (the tags are also the run tags, unless the job sets ``run_tags``,
in which case put them there)::

    from .pod_sizes import k8s_tags

    irt_calibration_job = dg.define_asset_job(
        "irt_calibration_job",
        selection=...,
        tags={**k8s_tags("large"), "alt42/serial": "irt"},
    )

A test fails for any job whose runs carry no size from this module. Outside Kubernetes the
tag is ignored, so the same definitions run unchanged with ``dagster dev``.

Per-step pods (opt-in). By default a run executes all its steps in its one pod. A job whose
steps are heavy *and* independent can run each step in a pod of its own with
``executor_def=executor_for(size)`` (dagster-k8s's ``k8s_job_executor``): steps then run in
parallel on different nodes, a step that runs out of memory fails (and can be retried)
alone, and the orchestrating run pod can stay ``small``::

    dg.define_asset_job(
        "fan_out_job", selection=..., tags=k8s_tags("small"), executor_def=executor_for("large")
    )

Use it only where that helps: every step pays a pod start (seconds to tens of seconds), and
steps hand data over through the warehouse only (never through a local file or the default
filesystem IO manager, since each pod has its own disk). Sensor-driven light runs (the
heartbeat) should never use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_k8s import k8s_job_executor

#: The tag dagster-k8s reads the run pod's Kubernetes configuration from.
K8S_CONFIG_TAG = "dagster-k8s/config"
#: The size name, both as a Dagster run tag (filter runs by size in the UI) and as a pod
#: label (``kubectl get pods -l alt42/pod-size=large``).
POD_SIZE_KEY = "alt42/pod-size"

#: The non-root user and group of the image (see the Dockerfile).
RUN_AS_USER = 10001

DEFAULT_SIZE = "medium"

# name: (cpu request, memory request, cpu limit, memory limit, /tmp size limit)
_RESOURCES: dict[str, tuple[str, str, str, str, str]] = {
    "small": ("250m", "512Mi", "1", "1Gi", "256Mi"),
    "medium": ("500m", "1Gi", "2", "2Gi", "1Gi"),
    "large": ("2", "4Gi", "4", "8Gi", "4Gi"),
}

SIZES: tuple[str, ...] = tuple(_RESOURCES)


def _check_size(size: str) -> None:
    if size not in _RESOURCES:
        raise ValueError(f"unknown pod size {size!r}; choose one of {', '.join(SIZES)}")


def k8s_config(size: str = DEFAULT_SIZE) -> dict[str, Any]:
    """The ``dagster-k8s/config`` value of a size (container, pod spec and pod metadata).

    The merge behaviour is SHALLOW: the size replaces, key by key, whatever the run launcher
    sets by default, so a size is the complete description of its pod's resources and security.
    """
    _check_size(size)
    cpu_request, memory_request, cpu_limit, memory_limit, tmp_limit = _RESOURCES[size]
    return {
        "container_config": {
            "resources": {
                "requests": {"cpu": cpu_request, "memory": memory_request},
                "limits": {"cpu": cpu_limit, "memory": memory_limit},
            },
            "security_context": {
                "run_as_non_root": True,
                "read_only_root_filesystem": True,
                "allow_privilege_escalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
        },
        "pod_spec_config": {
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": RUN_AS_USER,
                "run_as_group": RUN_AS_USER,
                "fs_group": RUN_AS_USER,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            "volumes": [{"name": "tmp", "empty_dir": {"size_limit": tmp_limit}}],
        },
        "pod_template_spec_metadata": {"labels": {POD_SIZE_KEY: size}},
        "merge_behavior": "SHALLOW",
    }


def k8s_tags(size: str = DEFAULT_SIZE) -> dict[str, Any]:
    """The tags to put on a job so that its runs get a pod of this size."""
    return {K8S_CONFIG_TAG: k8s_config(size), POD_SIZE_KEY: size}


def size_of(tags: Mapping[str, Any]) -> str | None:
    """The size whose ``dagster-k8s/config`` the tags carry, or None (no tag, or not one of ours).

    Accepts a job's tags as written (dict values) or as Dagster stores them (JSON strings).
    """
    raw = tags.get(K8S_CONFIG_TAG)
    if raw is None:
        return None
    value = json.loads(raw) if isinstance(raw, str) else raw
    return next((size for size in SIZES if k8s_config(size) == value), None)


def executor_for(size: str) -> dg.ExecutorDefinition:
    """dagster-k8s's ``k8s_job_executor``: each step of the run in its own pod of this size."""
    return k8s_job_executor.configured({"step_k8s_config": k8s_config(size)}, name=f"k8s_{size}_steps")
