"""Features: daily topic features and weekly KPIs, with their jobs and schedules."""

import datetime as dt

import dagster as dg
import pandas as pd

from ..core.kpis import week_start
from ..flows.aggregate import refresh_features, refresh_kpis
from ..reports import plots
from ..reports.weekly import kpi_trend
from ..warehouse import utcnow
from .checks import keys_check, rows_check
from .common import OWNERS, partition_days, partition_weeks, preview
from .ingest import events, questions, user_last_access
from .partitions import daily, weekly
from .pod_sizes import k8s_tags
from .resources import WarehouseResource

GROUP = "features"


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"sql", "pandas"},
    deps=[events],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Per student, topic and day: attempts, correct, accuracy, mean response time and "
    "time on task (gaps between events capped at 30 min).",
    check_specs=[
        dg.AssetCheckSpec("features_keys_unique", asset="features_topic_daily"),
        dg.AssetCheckSpec("features_not_empty", asset="features_topic_daily"),
    ],
)
def features_topic_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    now = utcnow()
    frames = [refresh_features(wh, day, now) for day in partition_days(context)]
    rows = sum(len(f) for f in frames)
    last = frames[-1] if frames else None
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "students": int(sum(f["user_id"].nunique() for f in frames)),
            "mean_accuracy": float(last["accuracy"].mean()) if last is not None and len(last) else 0.0,
            "preview": preview(last),
        }
    )
    keys = ["user_id", "topic_id", "date"]
    yield keys_check("features_keys_unique", pd.concat(frames) if frames else pd.DataFrame(columns=keys), keys)
    yield rows_check("features_not_empty", rows)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"sql", "pandas"},
    deps=[events, questions],
    partitions_def=weekly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Per student and ISO week (Monday UTC): attempts, accuracy, first-attempt accuracy, "
    "active days, time on task, longest streak, topic coverage (definitions in "
    "alt42_pipeline.core.kpis). The current week is refreshed every day.",
    check_specs=[
        dg.AssetCheckSpec("weekly_kpi_keys_unique", asset="weekly_kpi"),
        dg.AssetCheckSpec("weekly_kpi_not_empty", asset="weekly_kpi"),
    ],
)
def weekly_kpi(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    now = utcnow()
    weeks = list(partition_weeks(context))
    frames = [refresh_kpis(wh, week, now) for week in weeks]
    rows = sum(len(f) for f in frames)
    last = frames[-1]
    trend = kpi_trend(wh, weeks[-1])
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "weeks": len(frames),
            "preview": preview(last.assign(kpis=last["kpis"].map(_short))),
            "kpi_trend": dg.MetadataValue.md(
                plots.markdown_image(plots.line_chart(trend.assign(week=trend["week_start"].astype(str)), "week",
                                                      ["accuracy", "first_attempt_accuracy"], "Accuracy per week"), "KPI trend")
                if len(trend) else "_no KPI rows_"
            ),
        }
    )
    yield keys_check("weekly_kpi_keys_unique", pd.concat(frames), ["user_id", "week_start"])
    yield rows_check("weekly_kpi_not_empty", rows)


def _short(kpis: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in kpis.items())


ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(questions, user_last_access, events, features_topic_daily),
    partitions_def=daily,
    description="The item catalogue and Moodle's last access, then yesterday's events from both "
    "sources, then its topic features.",
    tags={**k8s_tags("medium"), "alt42/domain": "spine"},
)
intraday_events_job = dg.define_asset_job(
    "intraday_events_job",
    selection=dg.AssetSelection.assets(events),
    partitions_def=daily,
    description="Re-ingest today's events (the partition is replaced whole), so the heartbeat's "
    "student state sees the last half hour rather than yesterday.",
    tags={**k8s_tags("medium"), "alt42/serial": "intraday-events", "dagster/max_runtime": "1500"},
)
weekly_kpi_job = dg.define_asset_job(
    "weekly_kpi_job",
    selection=dg.AssetSelection.assets(weekly_kpi),
    partitions_def=weekly,
    description="KPIs of one week (the current week is refreshed daily).",
    tags={**k8s_tags("medium"), "alt42/domain": "spine"},
)

@dg.schedule(job=ingest_job, cron_schedule="10 2 * * *", execution_timezone="UTC", name="ingest_schedule",
             description="Daily 02:10 UTC: ingest yesterday, then its features (replaces the "
             "compute-daily-kpis and aggregate-features-daily CronJobs).")
def ingest_schedule(context: dg.ScheduleEvaluationContext):
    yesterday = (context.scheduled_execution_time - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"ingest:{yesterday}", partition_key=yesterday)


@dg.schedule(job=intraday_events_job, cron_schedule="5,35 * * * *", execution_timezone="UTC",
             name="intraday_events_schedule", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 30 minutes (:05 and :35 UTC): today's events, ahead of the heartbeat.")
def intraday_events_schedule(context: dg.ScheduleEvaluationContext):
    t = context.scheduled_execution_time
    return dg.RunRequest(run_key=f"intraday:{t.isoformat()}", partition_key=t.date().isoformat())


@dg.schedule(job=weekly_kpi_job, cron_schedule="40 2 * * *", execution_timezone="UTC", name="weekly_kpi_schedule",
             description="Daily 02:40 UTC: refresh the KPIs of the week that contains yesterday.")
def weekly_kpi_schedule(context: dg.ScheduleEvaluationContext):
    yesterday = (context.scheduled_execution_time - dt.timedelta(days=1)).date()
    key = week_start(yesterday).isoformat()
    return dg.RunRequest(run_key=f"weekly_kpi:{key}:{context.scheduled_execution_time.date()}", partition_key=key)


defs = dg.Definitions(
    assets=[features_topic_daily, weekly_kpi],
    jobs=[ingest_job, intraday_events_job, weekly_kpi_job],
    schedules=[ingest_schedule, intraday_events_schedule, weekly_kpi_schedule],
)
