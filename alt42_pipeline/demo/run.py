"""Run the whole graph on a demo platform: generate, write the sources, then launch the
code location's own jobs, as the schedules and sensors would, so the Dagster instance (and
``dagster dev``) shows every asset materialized by runs that carry the jobs' names and tags.

The partitions start on the demo's first day (``ALT42_PARTITIONS_START``, written to
``<ALT42_DATA_DIR>/demo.env`` for ``make dev``), so the UI shows every partition of the
demo's days materialized. Weeks are materialized once they have ended: the current week
(the days since Monday) is left out, as the nightly automation would only have started it.
A daily partitioned job over the demo's days is one run (a single-run backfill).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from .. import settings
from ..warehouse import make_engine
from .platform import DemoConfig, Platform, generate
from .write import save_truth, write_assessment, write_moodle

log = logging.getLogger(__name__)

#: Where ``dagster dev`` serves the web UI by default.
UI_URL = "http://127.0.0.1:3000"
#: The environment the demo's code location needs beyond the defaults (read by ``make dev``).
ENV_FILE = "demo.env"


@dataclass
class DemoRun:
    platform: Platform
    runs: list[tuple[str, str, bool, float]] = field(default_factory=list)  # job, partitions, ok, seconds
    left_out: str = ""  # the partial week the demo did not materialize, if any

    @property
    def success(self) -> bool:
        return all(ok for _, _, ok, _ in self.runs)


def write_platform(cfg: DemoConfig, s: settings.Settings) -> Platform:
    platform = generate(cfg)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    if s.sources.assessment_url:
        write_assessment(platform, make_engine(s.sources.assessment_url))
    if s.sources.moodle_url:
        write_moodle(platform, make_engine(s.sources.moodle_url), s.sources.moodle_prefix)
    save_truth(platform, s.data_dir / "truth")
    return platform


def start_partitions_at(first_day: dt.date) -> settings.Settings:
    """Make the code location's partitions start on the demo's first day (this process, and
    ``make dev`` through ``<ALT42_DATA_DIR>/demo.env``)."""
    os.environ["ALT42_PARTITIONS_START"] = first_day.isoformat()
    settings.load.cache_clear()
    s = settings.load()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    (s.data_dir / ENV_FILE).write_text(
        "# written by the demo: its partitions start where its data starts (read by make dev)\n"
        f"ALT42_PARTITIONS_START={first_day.isoformat()}\n"
    )
    return s


def _range(first: str, last: str) -> tuple[str | None, dict[str, str]]:
    """A partition key, or the tags of a single-run range."""
    if first == last:
        return first, {}
    return None, {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def launch_jobs(defs: dg.Definitions, cfg: DemoConfig, instance: dg.DagsterInstance, result: DemoRun) -> None:
    """The jobs in the order the nightly schedules and sensors would launch them."""
    from ..spine import week_start

    days = (cfg.first_day.isoformat(), cfg.last_day.isoformat())
    ended = week_start(cfg.last_day + dt.timedelta(days=1)) - dt.timedelta(days=7)  # the last ended week
    weeks = (week_start(cfg.first_day).isoformat(), ended.isoformat()) if ended >= week_start(cfg.first_day) else None
    if week_start(cfg.last_day) > ended:
        result.left_out = f"{week_start(cfg.last_day)} .. {cfg.last_day} (the current week, not ended)"
    as_of = {"config": {"as_of": cfg.last_day.isoformat()}}
    sunday = {"config": {"as_of": min(ended + dt.timedelta(days=6), cfg.last_day).isoformat()}}
    plan: list[tuple[str, tuple[str, str] | None, dict]] = [
        ("ingest_job", days, {}),
        ("weekly_kpi_job", weeks, {}),
        ("irt_calibration_job", None, {"ops": {"irt_calibration": as_of, "mirt_ability": as_of}}),
        # the risk model as the nights would have left it: as of the last ended week's Sunday
        # (its report lists who was at risk then), then as of the last day (a second version,
        # promoted or not against the first on the same held-out days)
        ("risk_job", None, {"ops": {"risk_model": sunday, "student_risk": sunday}}),
        ("risk_job", None, {"ops": {"risk_model": as_of, "student_risk": as_of}}),
        ("intraday_events_job", None, {}),
        ("state_refresh_job", None, {}),
        ("inactivity_alert_job", None, {}),
        ("interventions_job", days, {}),
        ("weekly_report_job", weeks, {}),
    ]
    for name, partitions, run_config in plan:
        if partitions is None and name in ("weekly_kpi_job", "weekly_report_job"):
            continue  # no week has ended yet
        partition_key, tags = _range(*partitions) if partitions else (None, {})
        started = time.perf_counter()
        run = defs.resolve_job_def(name).execute_in_process(
            run_config=run_config, instance=instance, partition_key=partition_key, tags=tags, raise_on_error=False
        )
        seconds = time.perf_counter() - started
        label = " .. ".join(dict.fromkeys(partitions)) if partitions else ""
        result.runs.append((name, label, run.success, seconds))
        log.info("%s %s: %s in %.1f s", name, label, "ok" if run.success else "FAILED", seconds)


def run_demo(cfg: DemoConfig, instance: dg.DagsterInstance | None = None) -> DemoRun:
    s = start_partitions_at(cfg.first_day)
    from ..definitions import defs  # after the partitions start is set: the code location reads it

    platform = write_platform(cfg, s)
    result = DemoRun(platform=platform)
    instance = instance or dg.DagsterInstance.get()
    launch_jobs(defs(), cfg, instance, result)
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
    cfg = result.platform.config
    lines = [
        f"demo platform: {cfg.students} students, {len(result.platform.items)} items, "
        f"{result.platform.n_events} source rows, {cfg.first_day} .. {cfg.last_day} "
        f"(partitions start on {cfg.first_day})",
        "runs (the code location's jobs):",
    ]
    for job, partitions, ok, seconds in result.runs:
        lines.append(f"  {'ok ' if ok else 'FAIL'} {seconds:6.1f}s  {job:22s} {partitions}")
    if result.left_out:
        lines.append(f"weeks left out: {result.left_out}")
    lines.append("warehouse tables:")
    for base in wh.schema.table_names:
        lines.append(f"  {wh.schema.name(base):32s} {wh.count(base):>9,d} rows")
    lines += _source_rows_text(wh, result.platform)
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
        lines += partial_credit_recovery(result.platform, wh)
    states = wh.read("student_state_cache", columns=["user_id", "state"])
    if len(states):
        counts = states["state"].value_counts().to_dict()
        lines.append("students per state: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    lines.extend(_risk_lines(wh, result.platform, states))
    wh.engine.dispose()
    return "\n".join(lines)


def partial_credit_recovery(platform, wh) -> list[str]:
    """Summary lines: the partial-credit (GPCM) questions' current parameters against the
    generator's truth on the anchor scale (``theta_ref = slope * theta + intercept``)."""
    truth = platform.items[platform.items.get("model", pd.Series("2pl", index=platform.items.index)) != "2pl"]
    if truth.empty:
        return []
    params = wh.read("mirt_item_params", {"is_current": True})
    if params.empty or "categories" not in params:
        return []
    params = params.set_index(params["item_id"].astype(str))
    ids = np.where(truth["source"] == "moodle", "mdl:", "") + truth["question_id"].astype(str)
    found = [(i, row) for i, (_, row) in zip(ids, truth.iterrows()) if i in params.index]
    docs = [params.at[i, "categories"] for i, _ in found]
    poly = [(i, row, d) for (i, row), d in zip(found, docs) if isinstance(d, dict) and d.get("n_categories", 2) > 2]
    if not poly:
        return [f"partial credit: {len(truth)} GPCM questions generated, none calibrated as polytomous"]
    slope, intercept = platform.scale["slope"], platform.scale["intercept"]
    est_b, true_b, est_a, true_a = [], [], [], []
    for i, row, d in poly:
        k = len(d["b"])
        est_b += d["b"]
        true_b += [slope * row[f"b{m + 1}"] + intercept for m in range(k)]
        est_a.append(params.at[i, "a"])
        true_a.append(row["a"] / slope)
    est_b, true_b = np.array(est_b, dtype=float), np.array(true_b, dtype=float)
    rmse_b = float(np.sqrt(np.mean((est_b - true_b) ** 2)))
    rmse_a = float(np.sqrt(np.mean((np.array(est_a) - np.array(true_a)) ** 2)))
    return [
        f"partial credit: {len(poly)} of {len(truth)} GPCM questions calibrated as polytomous; recovery of "
        f"their thresholds: r = {np.corrcoef(est_b, true_b)[0, 1]:.3f}, RMSE {rmse_b:.3f}; slopes RMSE {rmse_a:.3f}"
    ]


def _source_rows_text(wh, platform: Platform) -> list[str]:
    """Every source row accounted for over the ingested days, and the rejects by reason."""
    from ..spine.accounting import accounting_text

    book = wh.read("ingest_accounting", columns=["source", "kind", "rows"])
    lines = ["source rows over the ingested days (rows read = events + rejected + updated + kept apart):"]
    for source, part in book.groupby("source"):
        kinds = part.groupby("kind")["rows"].sum().astype(int).to_dict()
        kinds.pop("without_time", None)  # counted on every run: per day, not a sum
        lines.append(f"  {accounting_text(source, kinds)}")
    timeless = book[book["kind"] == "without_time"]
    if len(timeless):
        lines.append(f"  attempts without a usable time (no day can read them): {int(timeless['rows'].max())}")
    rejects = wh.read("rejected_events", columns=["reason"])["reason"].value_counts()
    lines.append("rejects by reason: " + (", ".join(f"{reason} {n}" for reason, n in rejects.items()) or "none"))
    if platform.real_world:
        lines.append(
            f"generator's truth: rejects {platform.real_world['rejects']}, kept apart {platform.real_world['apart']}"
        )
    return lines


def _risk_lines(wh, platform: Platform, states) -> list[str]:
    """The risk model's held-out metrics beside the rules', and the at-risk list against the
    generator's truth (demo metrics exercise the machinery; a real platform's count)."""
    from ..risk.store import latest_model_record

    record = latest_model_record(wh)
    if record is None:
        return ["drop-out risk model: none trained (too little history; the scenario rules decide at_risk)"]
    m, r = record["metrics"], record["rules_metrics"] or {}

    def cell(d, key, fmt="{:.2f}"):
        return fmt.format(d[key]) if d.get(key) is not None else "-"

    lines = [
        f"drop-out risk model v{record['version']} ({'promoted' if record['promoted'] else 'NOT promoted'}), "
        f"held-out days {' .. '.join(record['split']['test'])}:",
        "                  ROC AUC    AP  precision  recall  median lead (days)",
    ]
    for name, d in (("model", m), ("scenario rules", r)):
        lines.append(
            f"  {name:15s} {cell(d, 'roc_auc'):>7} {cell(d, 'average_precision'):>5} {cell(d, 'precision'):>10} "
            f"{cell(d, 'recall'):>7} {cell(d, 'median_lead_days', '{:.0f}'):>19}"
        )
    truth = platform.students.set_index("user_id")
    flagged = states.loc[states["state"] == "at_risk", "user_id"]
    if len(flagged):
        later = truth.loc[truth.index.intersection(flagged), "pattern"].isin(["dropped", "fading"]).mean()
        lines.append(
            f"at_risk students whose generating pattern is fading or dropped (the truth): {later:.0%} of {len(flagged)}"
        )
    return lines


def ui_instructions(s: settings.Settings) -> str:
    """How to open the web UI on the demo's instance."""
    home = os.environ.get("DAGSTER_HOME", str(Path(".dagster_home").resolve()))
    return (
        "\nThe web UI on this instance:\n"
        "  make dev\n"
        f"  (= ALT42_PARTITIONS_START={s.partitions_start} DAGSTER_HOME={home} "
        ".venv/bin/dagster dev -w workspace.yaml)\n"
        f"then open {UI_URL} (assets: {UI_URL}/assets, runs: {UI_URL}/runs)"
    )
