"""Reports: the weekly report of the week that just ended (replaces the legacy
generate-weekly-report CronJob, Mondays 04:00 UTC)."""

import datetime as dt

import dagster as dg

from ..clock import utcnow
from ..reports import inspect_stored, render_markdown, write_week
from ..spine import week_start
from .freshness import WEEKLY_REPORT
from .resources import ReportsResource, WarehouseResource
from .shared import (
    asset_spec,
    complete_weeks,
    describe_partitions,
    k8s_tags,
    materializing,
    partition_weeks,
    rounded,
    selected,
)

GROUP = "reports"

#: What the report reads.
REPORT_INPUTS = [
    dg.AssetKey(name)
    for name in (
        "questions",
        "events",
        "weekly_kpi",
        "mirt_item_params",
        "mirt_fit_meta",
        "mirt_ability",
        "interventions",
        "student_state_cache",
        "state_change_log",
        "heartbeat_log",
        "inactivity_alerts",
    )
]


@dg.multi_asset(
    specs=[
        asset_spec(
            "weekly_report",
            table="weekly_reports",
            group_name=GROUP,
            kinds={"html", "matplotlib"},
            deps=REPORT_INPUTS,
            description="The weekly report of one ended ISO week (Monday UTC) as one self-contained HTML "
            "page (plots inlined) stored in the warehouse table weekly_reports (and as a file in "
            "ALT42_REPORT_DIR unless ALT42_REPORT_FILES=false): KPI trends, students by state and state "
            "changes, inactivity alerts, abilities and their growth, item health (anchor drift, misfit), "
            "errors of the week. Its Markdown summary is in the metadata.",
            freshness_policy=WEEKLY_REPORT,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "weekly_report_self_contained",
            asset="weekly_report",
            description="The stored HTML page of the week(s) exists and every image is inlined (no external resource).",
        ),
    ],
    partitions_def=complete_weeks,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def weekly_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, reports: ReportsResource):
    wh = warehouse.get()
    options = reports.settings()
    folder = options.report_dir if options.files else None
    weeks = partition_weeks(context)
    if materializing(context):
        per_week = {}
        for i, week in enumerate(weeks, 1):
            context.log.info("weekly report %s (%s/%s): reading the week from the warehouse", week, i, len(weeks))
            written = write_week(wh, week, utcnow(), folder, context.run.run_id)
            context.log.info(
                "weekly report %s (%s/%s): %s plots, stored in %s%s",
                week,
                i,
                len(weeks),
                len(written.figures),
                written.table,
                f" and {written.path}" if written.path else "",
            )
            per_week[week.isoformat()] = _week_metadata(written)
        yield dg.MaterializeResult(metadata=describe_partitions(context, per_week, {"reports": len(weeks)}))
    stored = [inspect_stored(wh, week) for week in weeks]
    yield from selected(
        context,
        [
            dg.AssetCheckResult(
                check_name="weekly_report_self_contained",
                passed=bool(stored) and all(r["self_contained"] for r in stored),
                metadata={
                    "reports": len(stored),
                    "missing": ", ".join(r["week"] for r in stored if not r["exists"]),
                    "images": sum(r["images"] for r in stored),
                    "inlined_images": sum(r["inlined_images"] for r in stored),
                    "external_references": sum(r["external_references"] for r in stored),
                },
            )
        ],
    )


def _week_metadata(written) -> dict:
    from ..reports import plots  # matplotlib: imported by the runs that draw, not by the code location

    trend = written.figures.get("KPI trends")
    week = written.report.week_start.isoformat()
    numbers = {k: rounded(v) if isinstance(v, float) else v for k, v in written.report.numbers().items()}
    where = {
        "stored_in": dg.MetadataValue.md(
            f"warehouse table `{written.table}`, row `week_start = '{week}'` "
            f"(`SELECT html FROM {written.table} WHERE week_start = '{week}'`)"
        ),
        "report_table": written.table,
        "report_week": week,
    }
    if written.path is not None:
        where["path"] = dg.MetadataValue.path(str(written.path))
    return {
        **numbers,
        **where,
        "size_kb": rounded(len(written.page.encode()) / 1024, 3),
        "plots": len(written.figures),
        "summary": dg.MetadataValue.md(render_markdown(written.report)),
        "kpi_trend": dg.MetadataValue.md(plots.markdown_image(trend, "KPI trend") if trend else "_no KPI rows_"),
    }


weekly_report_job = dg.define_asset_job(
    "weekly_report_job",
    selection=dg.AssetSelection.assets(weekly_report),
    description="The weekly report of one week.",
    tags={**k8s_tags("medium"), "alt42/domain": "reports"},
)


def last_week(moment: dt.datetime) -> str:
    """Partition key (its Monday) of the week before the one ``moment`` is in."""
    return week_start(moment.date() - dt.timedelta(days=7)).isoformat()


@dg.schedule(
    job=weekly_report_job,
    cron_schedule="0 4 * * 1",
    execution_timezone="UTC",
    name="weekly_report_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays 04:00 UTC: the report of the week that just ended (replaces the "
    "generate-weekly-report CronJob).",
)
def weekly_report_schedule(context: dg.ScheduleEvaluationContext):
    key = last_week(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"weekly_report:{key}", partition_key=key)
