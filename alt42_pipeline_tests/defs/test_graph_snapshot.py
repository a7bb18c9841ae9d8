"""The resolved asset graph as a reviewed snapshot: any change to it is a diff in a commit.

The snapshot (``graph_snapshot.json`` beside this file) lists every asset (group, deps,
partitions, automation), every check, job (selection and the tags that decide how runs
behave, executor), schedule and sensor with its default status, and each asset's freshness
policy. When a change to the graph is
intended, regenerate it and review the diff::

    ALT42_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest alt42_pipeline_tests/defs/test_graph_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from alt42_pipeline import definitions

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")
#: Run tags that change how runs behave (the pod size's full Kubernetes config is tested in deploy/).
RUN_TAGS = ("alt42/serial", "alt42/pod-size", "alt42/domain", "dagster/max_runtime")


def _partitions(pdef) -> str | None:
    if pdef is None:
        return None
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return f"{pdef.cron_schedule} {pdef.timezone} from {pdef.start:%Y-%m-%d} end_offset={pdef.end_offset}"
    return type(pdef).__name__


def _freshness(policy) -> str | None:
    if policy is None:
        return None
    if hasattr(policy, "fail_window"):  # a time-window policy; else a cron policy
        warn = policy.warn_window.to_timedelta() if policy.warn_window else None
        return f"within {policy.fail_window.to_timedelta()} (warn after {warn})"
    return f"by {policy.deadline_cron} {policy.timezone}, not before {policy.lower_bound_delta} earlier"


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "materializable": node.is_materializable,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "backfill": str(node.backfill_policy.policy_type.value) if node.backfill_policy else None,
            "automation": str(node.automation_condition.get_label() or node.automation_condition.name)
            if node.automation_condition
            else None,
            "kinds": sorted(node.kinds),
            "freshness": _freshness(node.freshness_policy),
        }
    checks = sorted(
        f"{k.asset_key.to_user_string()}:{k.name}" + (" (blocking)" if _blocking(graph, k) else "")
        for k in graph.asset_check_keys
    )
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        tags = {**job.tags, **(job.run_tags or {})}
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "tags": {t: str(tags[t]) for t in RUN_TAGS if t in tags},
            "executor": job.executor_def.name,
        }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default": s.default_status.value,
        }
        for s in sorted(defs.schedules or [], key=lambda s: s.name)
    }
    sensors = {
        s.name: {
            "jobs": sorted(j.name for j in s.jobs) if s.has_jobs else [],
            "interval_s": s.minimum_interval_seconds,
            "default": s.default_status.value,
        }
        for s in sorted(defs.sensors or [], key=lambda s: s.name)
    }
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def _blocking(graph, key) -> bool:
    return bool(graph.get_check_spec(key).blocking)


def test_the_graph_is_the_reviewed_snapshot():
    current = graph_snapshot(definitions.defs())
    text = json.dumps(current, indent=1, sort_keys=True) + "\n"
    if os.environ.get("ALT42_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(text)
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, (
        "the asset graph changed; if that is intended, regenerate the snapshot "
        "(ALT42_UPDATE_SNAPSHOT=1) and review its diff"
    )
