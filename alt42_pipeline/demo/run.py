"""Run the whole graph on a demo platform: generate, write the sources, materialize all.

Materializes in dependency order, in one run per partitioning: unpartitioned assets in one
run, daily assets over the demo's days in one single-run backfill, weekly assets over its
weeks, so the Dagster instance (and ``dagster dev``) shows every asset materialized.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import dagster as dg

from .. import settings
from ..warehouse import make_engine
from .platform import DemoConfig, Platform, generate
from .write import save_truth, write_assessment, write_moodle

log = logging.getLogger(__name__)


@dataclass
class DemoRun:
    platform: Platform
    runs: list[tuple[str, list[str], bool, float]] = field(default_factory=list)  # label, assets, ok, seconds

    @property
    def success(self) -> bool:
        return all(ok for _, _, ok, _ in self.runs)


def write_platform(cfg: DemoConfig, s: settings.Settings) -> Platform:
    platform = generate(cfg)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    write_assessment(platform, make_engine(s.sources.assessment_url))
    if s.sources.moodle_url:
        write_moodle(platform, make_engine(s.sources.moodle_url), s.sources.moodle_prefix)
    save_truth(platform, s.data_dir / "truth")
    return platform


def _batches(defs: dg.Definitions):
    """Asset definitions in dependency order, grouped into consecutive runs of one
    partitioning. A multi-asset's keys travel together, placed where its last key falls in
    the topological order (so every upstream of every key has run before)."""
    graph = defs.resolve_asset_graph()
    position = {key: i for i, key in enumerate(graph.toposorted_asset_keys)}
    units: dict[tuple, tuple[int, object]] = {}
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        keys = tuple(sorted(node.assets_def.keys & graph.materializable_asset_keys))
        units[keys] = (max(position[k] for k in keys), node.partitions_def)
    batches: list[tuple[object, list[dg.AssetKey]]] = []
    for keys, (_, pdef) in sorted(units.items(), key=lambda item: item[1][0]):
        if batches and batches[-1][0] == pdef:
            batches[-1][1].extend(keys)
        else:
            batches.append((pdef, list(keys)))
    return batches


def materialize_all(
    defs: dg.Definitions, first: dt.date, last: dt.date, instance: dg.DagsterInstance, result: DemoRun
) -> None:
    from ..defs import shared as partitions
    from ..spine import week_start

    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    resources = defs.resources
    for pdef, keys in _batches(defs):
        tags: dict[str, str] = {}
        partition_key = None
        if pdef is not None:
            if pdef == partitions.daily:
                lo, hi = first.isoformat(), last.isoformat()
            elif pdef == partitions.weekly:
                lo, hi = week_start(first).isoformat(), week_start(last).isoformat()
            else:
                raise ValueError(f"the demo does not know how to run partitions {pdef}")
            if lo == hi:
                partition_key = lo
            else:
                tags = {"dagster/asset_partition_range_start": lo, "dagster/asset_partition_range_end": hi}
        label = f"{len(keys)} asset(s)" + (f" {tags or partition_key}" if (tags or partition_key) else "")
        started = time.perf_counter()
        selection = dg.AssetSelection.assets(*keys)
        run = dg.materialize(
            assets,
            selection=selection,
            resources=resources,
            instance=instance,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=False,
            # the console shows warnings only; every event is still in the instance (and the UI)
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        seconds = time.perf_counter() - started
        result.runs.append((label, [k.to_user_string() for k in keys], run.success, seconds))
        log.info(
            "%s: %s in %.1f s", ", ".join(k.to_user_string() for k in keys), "ok" if run.success else "FAILED", seconds
        )


def run_demo(cfg: DemoConfig, instance: dg.DagsterInstance | None = None) -> DemoRun:
    from ..definitions import defs

    s = settings.load()
    platform = write_platform(cfg, s)
    result = DemoRun(platform=platform)
    instance = instance or dg.DagsterInstance.get()
    materialize_all(defs(), cfg.first_day, cfg.last_day, instance, result)
    _init_batch_schedule(s)
    return result


def _init_batch_schedule(s: settings.Settings) -> None:
    """The default intervention schedule, so db_schedule_sensor has work under ``dagster dev``."""
    from ..interventions import init_default_schedule
    from ..warehouse import Warehouse

    wh = Warehouse(s.warehouse.url, s.warehouse.table_prefix)
    init_default_schedule(wh)
    wh.engine.dispose()


def summary(result: DemoRun, s: settings.Settings) -> str:
    from ..warehouse import Warehouse

    wh = Warehouse(s.warehouse.url, s.warehouse.table_prefix)
    lines = [
        f"demo platform: {result.platform.config.students} students, {len(result.platform.items)} items, "
        f"{result.platform.n_events} source rows, {result.platform.config.first_day} .. {result.platform.config.last_day}",
        "runs:",
    ]
    for label, keys, ok, seconds in result.runs:
        lines.append(f"  {'ok ' if ok else 'FAIL'} {seconds:6.1f}s  {', '.join(keys)}  {label}")
    lines.append("warehouse tables:")
    for base in wh.schema.table_names:
        lines.append(f"  {wh.schema.name(base):32s} {wh.count(base):>9,d} rows")
    meta = wh.read("mirt_fit_meta")
    if len(meta):
        spec = meta.sort_values("fitted_at")["model_spec"].iloc[-1]
        lc = spec.get("linking_constants") or {}
        truth = result.platform.scale
        lines.append(
            f"calibration: {spec.get('items')} items, {spec.get('users')} students, converged={spec.get('converged')}, "
            f"linking slope {lc.get('slope', float('nan')):.3f} / intercept {lc.get('intercept', float('nan')):.3f} "
            f"(generator's anchor scale: {truth['slope']} / {truth['intercept']})"
        )
    states = wh.read("student_state_cache", columns=["state"])
    if len(states):
        counts = states["state"].value_counts().to_dict()
        lines.append("students per state: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    wh.engine.dispose()
    return "\n".join(lines)
