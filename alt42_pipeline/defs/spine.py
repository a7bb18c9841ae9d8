"""The spine in Dagster: source databases -> item catalogue, canonical events (+ rejects),
Moodle's last access (group ``ingest``), then daily topic features and weekly KPIs (group
``features``), with their jobs and schedules."""

import datetime as dt

import dagster as dg
import pandas as pd

from .. import spine
from ..clock import utcnow
from ..reports import kpi_trend_markdown
from .resources import SourcesResource, WarehouseResource
from .shared import OWNERS, daily, k8s_tags, keys_check, partition_days, partition_weeks, preview, rows_check, weekly


@dg.asset(
    group_name="ingest",
    owners=OWNERS,
    kinds={"postgres", "mysql", "pandas"},
    description="Item catalogue: every question of the assessment bank and of Moodle, with its "
    "topic, anchor tag and the reference IRT parameters stored in question.meta.",
    check_specs=[dg.AssetCheckSpec("questions_keys_unique", asset="questions")],
)
def questions(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh = warehouse.get()
    result = spine.refresh_catalogue(wh, sources.get(), utcnow())
    frame = wh.read("questions", columns=["question_id", "topic_id", "source", "is_anchor", "ref_a", "ref_b"])
    for problem, ids in result.problems.items():
        context.log.warning("%s: %s question(s): %s", problem, len(ids), ", ".join(ids[:20]))
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows,
            "anchors": result.anchors,
            "by_source": result.by_source,
            "problems": {k: len(v) for k, v in result.problems.items()},
            "anchor_preview": preview(frame[frame.is_anchor]),
        }
    )
    yield keys_check("questions_keys_unique", frame, ["question_id"])


@dg.asset(
    group_name="ingest",
    owners=OWNERS,
    kinds={"postgres", "mysql", "pandas"},
    deps=[questions],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Canonical learning events (answers, logins, views, quiz attempts) of both sources, "
    "one daily partition per event date. Rows that cannot become events go to rejected_events "
    "with a reason, in the same transaction: nothing is dropped silently.",
    check_specs=[
        dg.AssetCheckSpec("events_keys_unique", asset="events"),
        dg.AssetCheckSpec("events_not_empty", asset="events"),
        dg.AssetCheckSpec("events_reject_share", asset="events", description="Under 5% of source rows rejected."),
    ],
    tags={"alt42/domain": "ingest"},
)
def events(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh, src = warehouse.get(), sources.get()
    now = utcnow()
    days = list(partition_days(context))
    results = []
    for i, day in enumerate(days, 1):
        results.append(spine.ingest_day(wh, src, day, now))
        context.log.info(
            "events %s (%s/%s): %s events, %s rejected", day, i, len(days), results[-1].events, results[-1].rejected
        )
    n_events = sum(r.events for r in results)
    n_rejected = sum(r.rejected for r in results)
    reasons = spine.total_reject_reasons(results)
    written = (
        wh.read("events", {"event_date": days}, columns=["event_id", "user_id", "occurred_at"])
        if len(days) <= 7
        else None
    )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": n_events,
            "rejected": n_rejected,
            "reject_reasons": reasons,
            "source_rows_read": sum(r.read_rows for r in results),
            "days": len(days),
            "per_day": dg.MetadataValue.md(
                "| day | events | rejected |\n|---|---|---|\n"
                + "\n".join(f"| {r.day} | {r.events} | {r.rejected} |" for r in results)
            ),
        }
    )
    if written is not None:
        yield keys_check("events_keys_unique", written, ["event_id", "user_id", "occurred_at"])
    else:  # large backfills: the primary key already guarantees it; count instead of reading
        yield dg.AssetCheckResult(check_name="events_keys_unique", passed=True, metadata={"checked_by": "primary key"})
    yield rows_check("events_not_empty", n_events)
    share = n_rejected / max(1, n_rejected + n_events)
    yield dg.AssetCheckResult(
        check_name="events_reject_share",
        passed=share < 0.05,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"reject_share": round(share, 5), "rejected": n_rejected},
    )


@dg.asset(
    group_name="ingest",
    owners=OWNERS,
    kinds={"mysql", "pandas"},
    description="Snapshot of Moodle's user_lastaccess: last access of each student to each course.",
    check_specs=[dg.AssetCheckSpec("user_last_access_keys_unique", asset="user_last_access")],
)
def user_last_access(warehouse: WarehouseResource, sources: SourcesResource):
    src = sources.get()
    if src.moodle is None:
        raise dg.Failure("ALT42_MOODLE_URL is empty: there is no Moodle to read user_lastaccess from")
    frame = spine.refresh_last_access(warehouse.get(), src, utcnow())
    yield dg.MaterializeResult(metadata={"dagster/row_count": len(frame), "preview": preview(frame)})
    yield keys_check("user_last_access_keys_unique", frame, ["user_id", "course_id"])


@dg.asset(
    group_name="features",
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
    frames = [spine.refresh_features(wh, day, now) for day in partition_days(context)]
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
    group_name="features",
    owners=OWNERS,
    kinds={"sql", "pandas"},
    deps=[events, questions],
    partitions_def=weekly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Per student and ISO week (Monday UTC): attempts, accuracy, first-attempt accuracy, "
    "active days, time on task, longest streak, topic coverage (definitions in "
    "alt42_pipeline.spine.kpis). The current week is refreshed every day.",
    check_specs=[
        dg.AssetCheckSpec("weekly_kpi_keys_unique", asset="weekly_kpi"),
        dg.AssetCheckSpec("weekly_kpi_not_empty", asset="weekly_kpi"),
    ],
)
def weekly_kpi(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    now = utcnow()
    weeks = list(partition_weeks(context))
    frames = [spine.refresh_kpis(wh, week, now) for week in weeks]
    rows = sum(len(f) for f in frames)
    last = frames[-1]
    trend = kpi_trend_markdown(wh, weeks[-1])
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "weeks": len(frames),
            "preview": preview(last.assign(kpis=last["kpis"].map(_short))),
            "kpi_trend": dg.MetadataValue.md(trend or "_no KPI rows_"),
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


@dg.schedule(
    job=ingest_job,
    cron_schedule="10 2 * * *",
    execution_timezone="UTC",
    name="ingest_schedule",
    description="Daily 02:10 UTC: ingest yesterday, then its features (replaces the "
    "compute-daily-kpis and aggregate-features-daily CronJobs).",
)
def ingest_schedule(context: dg.ScheduleEvaluationContext):
    yesterday = (context.scheduled_execution_time - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"ingest:{yesterday}", partition_key=yesterday)


@dg.schedule(
    job=intraday_events_job,
    cron_schedule="5,35 * * * *",
    execution_timezone="UTC",
    name="intraday_events_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 30 minutes (:05 and :35 UTC): today's events, ahead of the heartbeat.",
)
def intraday_events_schedule(context: dg.ScheduleEvaluationContext):
    t = context.scheduled_execution_time
    return dg.RunRequest(run_key=f"intraday:{t.isoformat()}", partition_key=t.date().isoformat())


@dg.schedule(
    job=weekly_kpi_job,
    cron_schedule="40 2 * * *",
    execution_timezone="UTC",
    name="weekly_kpi_schedule",
    description="Daily 02:40 UTC: refresh the KPIs of the week that contains yesterday.",
)
def weekly_kpi_schedule(context: dg.ScheduleEvaluationContext):
    yesterday = (context.scheduled_execution_time - dt.timedelta(days=1)).date()
    key = spine.week_start(yesterday).isoformat()
    return dg.RunRequest(run_key=f"weekly_kpi:{key}:{context.scheduled_execution_time.date()}", partition_key=key)
