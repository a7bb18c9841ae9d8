"""The spine in Dagster: source databases -> item catalogue, canonical events (+ rejects),
today's events so far, Moodle's last access (group ``ingest``), then daily topic features
and weekly KPIs (group ``features``), with their jobs and schedules.

Each asset checks what it wrote in its own step; its checks can also run alone (the asset
is subsettable), then they look at the latest materialized partition. A run of several
partitions gives each partition the figures of that partition (``describe_partitions``).
"""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from .. import spine
from ..clock import utcnow
from ..reports import kpi_trend_markdown
from .automation import WEEK_OF_UPDATED_DAYS
from .freshness import AFTER_NIGHTLY_INGEST, INTRADAY, NIGHTLY_INGEST
from .resources import SourcesResource, WarehouseResource
from .shared import (
    asset_spec,
    daily,
    describe_partitions,
    k8s_tags,
    keys_check,
    materializing,
    partition_days,
    partition_weeks,
    preview,
    rounded,
    rows_check,
    selected,
    week_days,
    weekly,
)

EVENT_KEYS = ["event_id", "user_id", "occurred_at"]
#: Share of a day's source rows that may be rejected before the check warns.
MAX_REJECT_SHARE = 0.05


def _event_checks(asset: str, prefix: str, whole_days: bool = True) -> list[dg.AssetCheckSpec]:
    """The checks of events; a day that has just begun may have none yet (``whole_days``)."""
    specs = [
        dg.AssetCheckSpec(
            f"{prefix}_accounting",
            asset=asset,
            blocking=True,
            description="Every source row of each day is accounted for: rows read = events + rejected + "
            "updated + kept apart (non-students, previews), per source, and the rejects counted are the "
            "ones stored (spine.accounting). Blocking: what follows never reads a day that lost rows.",
        ),
        dg.AssetCheckSpec(
            f"{prefix}_keys_unique",
            asset=asset,
            description=f"({', '.join(EVENT_KEYS)}) is unique and never null among the stored events of the "
            "partition(s), counted by the database.",
        ),
        dg.AssetCheckSpec(
            f"{prefix}_reject_share",
            asset=asset,
            description=f"Under {MAX_REJECT_SHARE:.0%} of the source rows of each day were rejected.",
        ),
    ]
    if whole_days:
        specs.append(
            dg.AssetCheckSpec(
                f"{prefix}_not_empty",
                asset=asset,
                description="Every day written has events (an empty day means a source was not read).",
            )
        )
    return specs


def event_check_results(prefix: str, wh, days: list[dt.date]) -> list[dg.AssetCheckResult]:
    """The events checks over ``days``, from what the warehouse holds."""
    events = wh.counts_by("events", "event_date", {"event_date": days}) if days else {}
    rejected = wh.counts_by("rejected_events", "event_date", {"event_date": days}) if days else {}
    shares = {d: rejected.get(d, 0) / max(1, rejected.get(d, 0) + events.get(d, 0)) for d in days}
    worst = max(shares, key=shares.get, default=None)
    empty = [d.isoformat() for d in days if not events.get(d)]
    return [
        accounting_check(f"{prefix}_accounting", wh, days),
        keys_check(f"{prefix}_keys_unique", wh, "events", EVENT_KEYS, {"event_date": days}),
        rows_check(f"{prefix}_not_empty", len(days) - len(empty), len(days), empty_days=", ".join(empty)),
        dg.AssetCheckResult(
            check_name=f"{prefix}_reject_share",
            passed=all(share < MAX_REJECT_SHARE for share in shares.values()),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "worst_day": worst.isoformat() if worst else "",
                "worst_reject_share": rounded(shares.get(worst, 0.0)),
                "rejected": sum(rejected.values()),
            },
        ),
    ]


def accounting_check(name: str, wh, days: list[dt.date]) -> dg.AssetCheckResult:
    """The accounting invariant over ``days``, from what the warehouse holds."""
    book = wh.read("ingest_accounting", {"event_date": days}) if days else None
    stored = {}
    if days:
        t = wh.table("rejected_events")
        counts = wh.read(
            sa.select(t.c.event_date, t.c.source, sa.func.count().label("n"))
            .where(t.c.event_date.in_(days))
            .group_by(t.c.event_date, t.c.source)
        )
        stored = {(r.event_date, r.source): int(r.n) for r in counts.itertuples(index=False)}
    problems = spine.accounting_problems(book, stored, days) if days else []
    return dg.AssetCheckResult(
        check_name=name,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"days": len(days), "problems": len(problems), "first_problems": "\n".join(problems[:10])},
    )


@dg.multi_asset(
    specs=[
        asset_spec(
            "questions",
            table="questions",
            group_name="ingest",
            kinds={"postgres", "mysql", "pandas"},
            description="Item catalogue: every question of the assessment bank and of Moodle, with its "
            "topic, anchor tag and the reference IRT parameters stored in question.meta.",
            freshness_policy=NIGHTLY_INGEST,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "questions_keys_unique", asset="questions", description="question_id is unique and never null."
        )
    ],
    can_subset=True,
)
def questions(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh = warehouse.get()
    if materializing(context):
        result = spine.refresh_catalogue(wh, sources.get(), utcnow())
        for problem, ids in result.problems.items():
            context.log.warning("%s: %s question(s): %s", problem, len(ids), ", ".join(ids[:20]))
        problems = wh.read("catalogue_problems", columns=["question_id", "problem", "detail"])
        anchors = wh.read(
            "questions", {"is_anchor": True}, columns=["question_id", "topic_id", "source", "ref_a", "ref_b"]
        )
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "anchors": result.anchors,
                "by_source": result.by_source,
                "problems": {k: len(v) for k, v in result.problems.items()},
                "problem_preview": preview(problems),
                "anchor_preview": preview(anchors),
            }
        )
    yield from selected(context, [keys_check("questions_keys_unique", wh, "questions", ["question_id"])])


@dg.multi_asset(
    specs=[
        asset_spec(
            "events",
            table="events",
            group_name="ingest",
            kinds={"postgres", "mysql", "pandas"},
            deps=["questions"],
            description="Canonical learning events (answers, logins, views, quiz attempts) of both sources, "
            "one daily partition per ended UTC day. Rows that cannot become events go to rejected_events "
            "with a reason, in the same transaction: nothing is dropped silently.",
            freshness_policy=NIGHTLY_INGEST,
            tags={"alt42/domain": "ingest"},
        )
    ],
    check_specs=_event_checks("events", "events"),
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def events(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh = warehouse.get()
    days = partition_days(context)
    if materializing(context):
        src, now = sources.get(), utcnow()
        results = []
        for i, day in enumerate(days, 1):
            results.append(spine.ingest_day(wh, src, day, now))
            context.log.info(
                "events %s (%s/%s): %s events, %s rejected", day, i, len(days), results[-1].events, results[-1].rejected
            )
        per_day = {r.day.isoformat(): _day_metadata(r) for r in results}
        totals = {
            "events": sum(r.events for r in results),
            "rejected": sum(r.rejected for r in results),
            "source_rows_read": sum(r.read_rows for r in results),
            "kept_apart": sum(sum(r.kept_apart.values()) for r in results),
            "updated_earlier_days": sum(r.updated for r in results),
        }
        yield dg.MaterializeResult(metadata=describe_partitions(context, per_day, totals))
    yield from selected(context, event_check_results("events", wh, days))


def _day_metadata(result: spine.DayResult) -> dict:
    return {
        "dagster/row_count": result.events,
        "rejected": result.rejected,
        "source_rows_read": result.read_rows,
        "by_source": result.by_source,
        "reject_reasons": result.reject_reasons,
        "kept_apart": result.kept_apart,
        "updated_earlier_days": result.updated,
        "without_time": result.without_time,
        "accounting": result.accounting_line(),
    }


@dg.multi_asset(
    specs=[
        asset_spec(
            "intraday_events",
            table="events",
            group_name="ingest",
            kinds={"postgres", "mysql", "pandas"},
            deps=["questions"],
            description="Today's events so far, re-ingested every 30 minutes into the events table (today's "
            "rows are replaced whole), so the heartbeat sees the last half hour. Once the day has "
            "ended, the nightly ingest writes it as a partition of events.",
            freshness_policy=INTRADAY,
        )
    ],
    check_specs=_event_checks("intraday_events", "intraday_events", whole_days=False),
    can_subset=True,
)
def intraday_events(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh = warehouse.get()
    now = utcnow()
    today = now.date()
    if materializing(context):
        result = spine.ingest_day(wh, sources.get(), today, now)
        context.log.info("events of %s so far: %s events, %s rejected", today, result.events, result.rejected)
        yield dg.MaterializeResult(metadata={"day": today.isoformat(), **_day_metadata(result)})
    yield from selected(context, event_check_results("intraday_events", wh, [today]))


@dg.multi_asset(
    specs=[
        asset_spec(
            "user_last_access",
            table="user_last_access",
            group_name="ingest",
            kinds={"mysql", "pandas"},
            description="Snapshot of Moodle's user_lastaccess: last access of each student to each course "
            "(not written when ALT42_MOODLE_URL is empty).",
            freshness_policy=NIGHTLY_INGEST,
            skippable=True,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "user_last_access_keys_unique",
            asset="user_last_access",
            description="(user_id, course_id) is unique and never null.",
        )
    ],
    can_subset=True,
)
def user_last_access(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh = warehouse.get()
    if materializing(context):
        src = sources.get()
        if src.moodle is None:
            context.log.warning("ALT42_MOODLE_URL is empty: there is no Moodle to read user_lastaccess from")
            return
        frame = spine.refresh_last_access(wh, src, utcnow())
        yield dg.MaterializeResult(metadata={"dagster/row_count": len(frame), "preview": preview(frame)})
    keys = ["user_id", "course_id"]
    yield from selected(context, [keys_check("user_last_access_keys_unique", wh, "user_last_access", keys)])


@dg.multi_asset(
    specs=[
        asset_spec(
            "features_topic_daily",
            table="features_topic_daily",
            group_name="features",
            kinds={"sql", "pandas"},
            deps=["events"],
            description="Per student, topic and day: attempts, correct, accuracy, mean response time and "
            "time on task (gaps between events capped at 30 min). Follows each day's events.",
            freshness_policy=AFTER_NIGHTLY_INGEST,
            automation_condition=dg.AutomationCondition.eager(),
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "features_keys_unique",
            asset="features_topic_daily",
            description="(user_id, topic_id, date) is unique and never null in the partition(s).",
        ),
        dg.AssetCheckSpec(
            "features_not_empty", asset="features_topic_daily", description="Every day written has feature rows."
        ),
    ],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def features_topic_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    days = partition_days(context)
    if materializing(context):
        now = utcnow()
        frames = {day.isoformat(): spine.refresh_features(wh, day, now) for day in days}
        per_day = {
            day: {
                "dagster/row_count": len(frame),
                "students": int(frame["user_id"].nunique()),
                "mean_accuracy": rounded(frame["accuracy"].mean()) if len(frame) else None,
                "preview": preview(frame),
            }
            for day, frame in frames.items()
        }
        totals = {"rows": sum(len(f) for f in frames.values())}
        yield dg.MaterializeResult(metadata=describe_partitions(context, per_day, totals))
    rows = wh.counts_by("features_topic_daily", "date", {"date": days}) if days else {}
    empty = [d.isoformat() for d in days if not rows.get(d)]
    keys = ["user_id", "topic_id", "date"]
    yield from selected(
        context,
        [
            keys_check("features_keys_unique", wh, "features_topic_daily", keys, {"date": days}),
            rows_check("features_not_empty", len(days) - len(empty), len(days), empty_days=", ".join(empty)),
        ],
    )


@dg.multi_asset(
    specs=[
        asset_spec(
            "weekly_kpi",
            table="weekly_kpi",
            group_name="features",
            kinds={"sql", "pandas"},
            deps=["events", "questions"],
            description="Per student and ISO week (Monday UTC): attempts, accuracy, first-attempt accuracy, "
            "active days, time on task, longest streak, topic coverage (definitions in "
            "alt42_pipeline.spine.kpis). The current week is refreshed as its days come in; a week "
            "with fewer than 7 days says so (complete=false).",
            freshness_policy=AFTER_NIGHTLY_INGEST,
            automation_condition=WEEK_OF_UPDATED_DAYS,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "weekly_kpi_keys_unique",
            asset="weekly_kpi",
            description="(user_id, week_start) is unique and never null in the partition(s).",
        ),
        dg.AssetCheckSpec("weekly_kpi_not_empty", asset="weekly_kpi", description="Every week written has KPI rows."),
    ],
    partitions_def=weekly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def weekly_kpi(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    weeks = partition_weeks(context)
    if materializing(context):
        now = utcnow()
        last_day = now.date() - dt.timedelta(days=1)
        frames = {week: spine.refresh_kpis(wh, week, now) for week in weeks}
        per_week = {}
        for week, frame in frames.items():
            days = week_days(week, last_day)
            per_week[week.isoformat()] = {
                "dagster/row_count": len(frame),
                "days": days,
                "complete": days == 7,
                "preview": preview(frame.assign(kpis=frame["kpis"].map(_short))),
            }
        trend = kpi_trend_markdown(wh, weeks[-1])
        per_week[weeks[-1].isoformat()]["kpi_trend"] = dg.MetadataValue.md(trend or "_no KPI rows_")
        totals = {"rows": sum(len(f) for f in frames.values())}
        yield dg.MaterializeResult(metadata=describe_partitions(context, per_week, totals))
    rows = wh.counts_by("weekly_kpi", "week_start", {"week_start": weeks}) if weeks else {}
    empty = [w.isoformat() for w in weeks if not rows.get(w)]
    yield from selected(
        context,
        [
            keys_check("weekly_kpi_keys_unique", wh, "weekly_kpi", ["user_id", "week_start"], {"week_start": weeks}),
            rows_check("weekly_kpi_not_empty", len(weeks) - len(empty), len(weeks), empty_weeks=", ".join(empty)),
        ],
    )


def _short(kpis: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in kpis.items())


ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(questions, user_last_access, events, features_topic_daily),
    description="The item catalogue and Moodle's last access, then one day (or a range) of events from "
    "both sources and its topic features, in one run (its week's KPIs and the abilities follow by "
    "automation).",
    tags={**k8s_tags("medium"), "alt42/domain": "spine"},
)
intraday_events_job = dg.define_asset_job(
    "intraday_events_job",
    selection=dg.AssetSelection.assets(intraday_events),
    description="Re-ingest today's events (today's rows are replaced whole), so the heartbeat's "
    "student state sees the last half hour rather than yesterday.",
    tags={**k8s_tags("small"), "alt42/serial": "intraday-events", "dagster/max_runtime": "1500"},
)
weekly_kpi_job = dg.define_asset_job(
    "weekly_kpi_job",
    selection=dg.AssetSelection.assets(weekly_kpi),
    description="KPIs of one week or a range of weeks (by hand or as a backfill; the automation "
    "refreshes the current and the last week as their days come in).",
    tags={**k8s_tags("medium"), "alt42/domain": "spine"},
)


@dg.schedule(
    job=ingest_job,
    cron_schedule="10 2 * * *",
    execution_timezone="UTC",
    name="ingest_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily 02:10 UTC: the catalogue, Moodle's last access, yesterday's events and their "
    "features (replaces the compute-daily-kpis and aggregate-features-daily CronJobs).",
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
    description="Every 30 minutes (:05 and :35 UTC): today's events so far, ahead of the heartbeat.",
)
def intraday_events_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=f"intraday:{context.scheduled_execution_time.isoformat()}")
