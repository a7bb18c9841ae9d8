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
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from .. import settings
from ..warehouse import build_schema
from ..warehouse.types import JsonDocument

if TYPE_CHECKING:
    from ..calibration.health import Verdict
    from ..warehouse import Warehouse

OWNERS = ["team:analytics-platform"]
#: Runs with the same value of this tag never run at once (the instance's tag concurrency
#: limit queues the second): the legacy process lock.
SERIAL_TAG = "alt42/serial"

# -- partitions (daily event days and Monday-start ISO weeks, UTC) ------------------------------

_START = settings.load().partitions_start
#: Closed UTC days from ``ALT42_PARTITIONS_START``: a day becomes a partition once it has
#: ended (the nightly ingest writes yesterday). Today's events so far are the unpartitioned
#: ``intraday_events`` asset, so a daily partition always means a whole day.
daily = dg.DailyPartitionsDefinition(start_date=_START.isoformat(), timezone="UTC")
#: The Monday of the week holding the first day: every day belongs to a weekly partition.
FIRST_MONDAY = _START - dt.timedelta(days=_START.weekday())
#: Weeks start on Monday 00:00 UTC; ``end_offset=1`` exposes the current, unfinished week
#: so its KPIs can be refreshed every day (their metadata says how many days it holds).
weekly = dg.WeeklyPartitionsDefinition(start_date=FIRST_MONDAY.isoformat(), day_offset=1, timezone="UTC", end_offset=1)
#: Ended weeks only: what is reported on once the week is over.
complete_weeks = dg.WeeklyPartitionsDefinition(start_date=FIRST_MONDAY.isoformat(), day_offset=1, timezone="UTC")


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """Every day of the run's partition (range), for daily-partitioned assets."""
    return _starts(context, dt.timedelta(days=1))


def partition_weeks(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The Monday of every week in the run's partition (range), for weekly assets."""
    return _starts(context, dt.timedelta(days=7))


def _starts(context: dg.AssetExecutionContext, step: dt.timedelta) -> list[dt.date]:
    if context.has_partition_key or context.has_partition_key_range:
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
    else:  # the asset's checks run alone: they look at the latest materialized partition
        latest = latest_partition(context)
        if latest is None:
            return []
        start = dt.date.fromisoformat(latest)
        end = start + step
    out = []
    while start < end:
        out.append(start)
        start += step
    return out


def latest_partition(context: dg.AssetExecutionContext) -> str | None:
    """The partition of the asset's latest materialization (None before the first)."""
    keys = context.selected_asset_keys or {check.asset_key for check in context.selected_asset_check_keys}
    event = context.instance.get_latest_materialization_event(next(iter(keys)))
    return event.dagster_event.partition if event and event.dagster_event else None


def week_days(week: dt.date, last_day: dt.date) -> int:
    """Days of the week starting ``week`` that lie between the first partition day and
    ``last_day`` (a week is complete with 7)."""
    first = max(week, _START)
    last = min(week + dt.timedelta(days=6), last_day)
    return max(0, (last - first).days + 1)


def materializing(context: dg.AssetExecutionContext) -> bool:
    """Whether the asset itself is selected (False when only its checks run)."""
    return bool(context.selected_asset_keys)


# -- metadata ---------------------------------------------------------------------------------


def asset_spec(key: str, *, table: str | None = None, **kwargs: Any) -> dg.AssetSpec:
    """An asset of ours: owned by the team, and for a warehouse table its name and columns."""
    return dg.AssetSpec(key, owners=OWNERS, metadata=table_metadata(table) if table else None, **kwargs)


def table_metadata(base: str) -> dict[str, Any]:
    """``dagster/table_name`` (with the table prefix) and ``dagster/column_schema`` of a
    warehouse table, for the asset's definition."""
    table = build_schema(settings.load().warehouse.table_prefix)[base]
    primary = [c.name for c in table.primary_key.columns]
    columns = [
        dg.TableColumn(
            name=c.name,
            type="json" if isinstance(c.type, JsonDocument) else str(c.type).lower(),
            description=c.comment,
            constraints=dg.TableColumnConstraints(nullable=bool(c.nullable), unique=primary == [c.name]),
        )
        for c in table.columns
    ]
    constraints = dg.TableConstraints(other=[f"primary key ({', '.join(primary)})"]) if len(primary) > 1 else None
    return {
        "dagster/table_name": table.name,
        "dagster/column_schema": dg.TableSchema(columns=columns, constraints=constraints),
    }


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A float for the metadata: ``digits`` significant digits (NaN becomes None)."""
    if value is None or not math.isfinite(float(value)):
        return None
    value = float(value)
    return 0.0 if value == 0 else round(value, max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item())
    if isinstance(value, float):
        return rounded(value)
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float", "M": "datetime"}


def preview(frame: pd.DataFrame | None, rows: int = 10) -> dg.MetadataValue:
    """The first ``rows`` rows of ``frame`` as a table for the asset page (floats rounded)."""
    frame = pd.DataFrame() if frame is None else frame.head(rows)
    schema = dg.TableSchema(columns=[dg.TableColumn(str(c), _KINDS.get(frame[c].dtype.kind, "string")) for c in frame])
    records = [dg.TableRecord({str(k): _cell(v) for k, v in row.items()}) for row in frame.to_dict("records")]
    return dg.MetadataValue.table(records=records, schema=schema)


def counts_table(counts: Mapping[str, Any], key: str, value: str) -> dg.MetadataValue:
    """A mapping (e.g. rejects per reason) as a two-column table."""
    return preview(pd.DataFrame({key: list(counts), value: list(counts.values())}), rows=len(counts) or 1)


def describe_partitions(
    context: dg.AssetExecutionContext, per_partition: Mapping[str, Mapping[str, Any]], totals: Mapping[str, Any]
) -> dict[str, Any]:
    """Give each partition of the run its own metadata, and return what describes the run.

    A run of several partitions (a single-run backfill) reports one materialization per
    partition; each carries the figures of its own partition (``context.add_asset_metadata``
    with the partition key) and the run's totals under ``range_*`` keys, labelled as such.
    """
    for key, metadata in per_partition.items():
        context.add_asset_metadata(dict(metadata), partition_key=key)
    keys = sorted(per_partition)
    if len(keys) <= 1:
        return {}
    return {
        "range": f"{keys[0]} .. {keys[-1]}",
        "range_partitions": len(keys),
        **{f"range_{name}": value for name, value in totals.items()},
    }


# -- checks -----------------------------------------------------------------------------------


def selected(
    context: dg.AssetExecutionContext, results: Iterable[dg.AssetCheckResult]
) -> Iterable[dg.AssetCheckResult]:
    """The results of the checks selected in this run (an asset's checks can run without it,
    and a subset of them without the others)."""
    wanted = {key.name for key in context.selected_asset_check_keys}
    return [r for r in results if r.check_name in wanted]


def keys_check(name: str, wh: Warehouse, base: str, keys: Sequence[str], where=None) -> dg.AssetCheckResult:
    """Keys are unique and non-null in the stored rows (``where`` narrows them to the run's
    partitions), counted by the database, whatever the number of rows."""
    found = wh.key_violations(base, keys, where)
    return dg.AssetCheckResult(
        check_name=name,
        passed=found.null_keys == 0 and found.duplicate_keys == 0,
        metadata={
            "rows": found.rows,
            "null_keys": found.null_keys,
            "duplicate_keys": found.duplicate_keys,
            "keys": ", ".join(keys),
        },
    )


def rows_check(name: str, rows: int, minimum: int = 1, **metadata: Any) -> dg.AssetCheckResult:
    """At least ``minimum`` rows were written (an empty partition is suspicious)."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=rows >= minimum,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": rows, "minimum": minimum, **metadata},
    )


def verdict_check(verdict: Verdict, table_rows: int = 30) -> dg.AssetCheckResult:
    """A domain's health verdict as an asset check result."""
    metadata = {k: rounded(v) if isinstance(v, float) else v for k, v in verdict.metadata.items()}
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
