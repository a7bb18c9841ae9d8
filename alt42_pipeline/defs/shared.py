"""What every domain's Dagster definitions share: owners, partitions, metadata and check
helpers, and the job tags (pod sizes, serial runs).

Pod sizes. In production every run is a Kubernetes pod started by dagster-k8s's ``K8sRunLauncher``. The
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

    from .shared import k8s_tags

    irt_calibration_job = dg.define_asset_job(
        "irt_calibration_job",
        selection=...,
        tags={**k8s_tags("large"), "alt42/serial": "irt"},
    )

A test fails for any job whose runs carry no size from this module. Outside Kubernetes the
tag is ignored, so the same definitions run unchanged with ``dagster dev``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from .. import settings

if TYPE_CHECKING:
    from ..calibration.health import Verdict

OWNERS = ["team:analytics-platform"]
#: Runs with the same value of this tag never run at once (the instance's tag concurrency
#: limit queues the second): the legacy process lock.
SERIAL_TAG = "alt42/serial"

# -- partitions (daily event days and Monday-start ISO weeks, UTC) ------------------------------

_START = settings.load().partitions_start.isoformat()
#: ``end_offset=1`` exposes today: the heartbeat re-ingests today's partition every 30
#: minutes so student state sees events of the last half hour, not of yesterday.
daily = dg.DailyPartitionsDefinition(start_date=_START, timezone="UTC", end_offset=1)
#: Weeks start on Monday 00:00 UTC; ``end_offset=1`` exposes the current, unfinished week
#: so its KPIs can be refreshed every day.
weekly = dg.WeeklyPartitionsDefinition(start_date=_START, day_offset=1, timezone="UTC", end_offset=1)


def partition_days(context: dg.AssetExecutionContext) -> Iterator[dt.date]:
    """Every day of the run's partition (range), for daily-partitioned assets."""
    return _starts(context, dt.timedelta(days=1))


def partition_weeks(context: dg.AssetExecutionContext) -> Iterator[dt.date]:
    """The Monday of every week in the run's partition (range), for weekly assets."""
    return _starts(context, dt.timedelta(days=7))


def _starts(context: dg.AssetExecutionContext, step: dt.timedelta) -> Iterator[dt.date]:
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    while start < end:
        yield start
        start += step


# -- metadata and checks --------------------------------------------------------------------------


def preview(frame: pd.DataFrame | None, rows: int = 10) -> dg.MetadataValue:
    """A small markdown table of ``frame`` for the asset page."""
    if frame is None or frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def keys_check(name: str, frame: pd.DataFrame, keys: Sequence[str]) -> dg.AssetCheckResult:
    """Keys are unique and non-null in the written rows."""
    nulls = int(frame[list(keys)].isna().any(axis=1).sum()) if len(frame) else 0
    dups = int(frame.duplicated(list(keys)).sum()) if len(frame) else 0
    return dg.AssetCheckResult(
        check_name=name,
        passed=nulls == 0 and dups == 0,
        metadata={"rows": len(frame), "null_keys": nulls, "duplicate_keys": dups, "keys": ", ".join(keys)},
    )


def rows_check(name: str, rows: int, minimum: int = 1) -> dg.AssetCheckResult:
    """At least ``minimum`` rows were written (an empty partition is suspicious)."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=rows >= minimum,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": rows, "minimum": minimum},
    )


def verdict_check(verdict: Verdict, table_rows: int = 30) -> dg.AssetCheckResult:
    """A domain's health verdict as an asset check result."""
    metadata = dict(verdict.metadata)
    if verdict.table is not None:
        metadata["table"] = preview(verdict.table, table_rows)
    severity = dg.AssetCheckSeverity.ERROR if verdict.severity == "error" else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        check_name=verdict.check,
        asset_key=verdict.asset,
        passed=bool(verdict.passed),
        severity=severity,
        metadata=metadata,
    )


# -- pod sizes -------------------------------------------------------------------------------------

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
            # runs never call the Kubernetes API: no service-account token in their pods
            "automount_service_account_token": False,
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
