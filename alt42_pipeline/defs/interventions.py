"""Dagster definitions of the interventions domain.

The ``interventions`` asset runs the batch for one day (its daily partition);
``interventions_job`` launches it by hand, from a backfill or from ``db_schedule_sensor``,
which turns the schedules users keep in ``batch_schedules`` into runs.
"""

import contextlib
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable

import dagster as dg

from .. import settings
from ..interventions.batch import WEAK_WINDOW_DAYS, run_batch
from ..interventions import build_recommender
from ..interventions.required_records import parse_required_records
from ..interventions.schedule_store import list_schedules
from ..interventions.schedules import TARGET_JOBS, due_slots
from .common import OWNERS, partition_days
from .partitions import daily
from .pod_sizes import k8s_tags
from .resources import WarehouseResource


#: Tags a scheduled run carries; ``SLOT_TAG`` is the schedule id + due time (the run key).
SCHEDULE_TAG = "alt42/schedule"
SLOT_TAG = "alt42/schedule_slot"
DUE_TAG = "alt42/due_at"
FIRST_DAY = daily.start.date()


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        "events",
        "student_state_cache",
        "weekly_kpi",
        # weak topics come from the last two weeks of topic features
        dg.AssetDep(
            "features_topic_daily",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-(WEAK_WINDOW_DAYS - 1)),
        ),
        "mirt_ability",
    ],
    group_name="interventions",
    owners=OWNERS,
    kinds={"python", "pandas", "sql"},
    check_specs=[dg.AssetCheckSpec("interventions_without_failures", asset="interventions")],
    description=(
        "One recommendation per student for the partition's day, for students with every "
        "required record that day (ALT42_REQUIRED_RECORDS) and no intervention yet. "
        "Students whose recommendation fails are stored in intervention_errors."
    ),
)
def interventions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    options = settings.load_interventions()
    groups = parse_required_records(options.required_records)
    reports = {}
    with contextlib.ExitStack() as stack:
        recommender = build_recommender(options)
        if hasattr(recommender, "close"):
            stack.callback(recommender.close)
        for day in partition_days(context):  # one day, or every day of a backfill range
            reports[day] = run_batch(
                warehouse.get(), day, recommender, groups, run_id=context.run_id, chunk=options.recommender_chunk
            )
            context.log.info("interventions %s: %s", day, reports[day].counts)
    counts = Counter()
    recommendations = Counter()
    seconds = Counter()
    for report in reports.values():
        counts.update(report.counts)
        recommendations.update(report.recommendations)
        seconds.update(report.seconds)
    processed, failed = counts["processed"], counts["failed"]
    last = reports[max(reports)]
    metadata = {
        **dict(counts),
        "dagster/row_count": processed,
        "days": len(reports),
        "recommender": f"{recommender.name} {recommender.version}",
        "required_records": "; ".join(str(g) for g in groups),
        "recommendations": dg.MetadataValue.json(dict(recommendations)),
        "seconds": dg.MetadataValue.json({k: round(v, 3) for k, v in seconds.items()}),
        "preview": dg.MetadataValue.md(last.sample.to_markdown(index=False) if len(last.sample) else "(none)"),
    }
    if failed:
        first = next(r for r in reports.values() if r.failed)
        context.log.warning(
            "%d of %d students failed (see intervention_errors for run %s); first: %s",
            failed, failed + processed, context.run_id, first.errors.iloc[0]["error_type"],
        )
        systemic = [str(d) for d, r in reports.items() if r.failed and not r.processed]
        if systemic:
            # Nothing succeeded on those days: a systemic failure (e.g. the remote recommender
            # is down). The errors are stored; failing the run makes it visible to retries.
            raise dg.Failure(description=f"every eligible student failed for {', '.join(systemic)}", metadata=dict(counts))
    check = dg.AssetCheckResult(
        check_name="interventions_without_failures",
        passed=failed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description="Every eligible student got a recommendation (failures are in intervention_errors).",
        metadata={"failed": failed, "processed": processed},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


interventions_job = dg.define_asset_job(
    "interventions_job",
    selection=[interventions],
    partitions_def=daily,
    description="The intervention batch for one day (the partition); scheduled by db_schedule_sensor.",
    # One batch at a time: two runs of one day would race on the (student, date) key.
    tags={**k8s_tags("medium"), "alt42/serial": "interventions", "dagster/max_runtime": "3600"},
)

#: The jobs schedules can start, by name; every schedule target must name one of them.
SCHEDULED_JOBS = {job.name: job for job in (interventions_job,)}
assert set(TARGET_JOBS.values()) == set(SCHEDULED_JOBS), "every schedule target needs a job"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_db_schedule_sensor(clock: Callable[[], dt.datetime] = utc_now) -> dg.SensorDefinition:
    """The sensor that launches batches from ``batch_schedules`` (``clock`` is for tests)."""

    @dg.sensor(
        name="db_schedule_sensor",
        jobs=list(SCHEDULED_JOBS.values()),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Launches each active schedule of batch_schedules at its latest due time, once "
            "(run key = schedule id + due time); after downtime only the latest missed slot runs."
        ),
    )
    def db_schedule_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        schedules = list_schedules(warehouse.get())
        last_fired = json.loads(context.cursor) if context.cursor else {}
        tick = due_slots(schedules, clock(), last_fired)
        for problem in tick.invalid:
            context.log.error("skipped an invalid schedule: %s", problem)
        requests = []
        for slot in tick.slots:
            if slot.partition < FIRST_DAY:
                context.log.warning("schedule %s: day %s is before the first partition", slot.schedule.name, slot.partition)
                continue
            if context.instance.get_run_records(filters=dg.RunsFilter(tags={SLOT_TAG: slot.key}), limit=1):
                context.log.info("schedule %s: slot %s already has a run", slot.schedule.name, slot.key)
                continue
            requests.append(
                dg.RunRequest(
                    run_key=slot.key,
                    job_name=TARGET_JOBS[slot.schedule.target],
                    partition_key=slot.partition.isoformat(),
                    tags={SCHEDULE_TAG: slot.schedule.name, SLOT_TAG: slot.key, DUE_TAG: slot.due.isoformat()},
                )
            )
        new_cursor = json.dumps(tick.cursor, sort_keys=True)
        if not requests:
            return dg.SensorResult(skip_reason=f"no schedule due ({len(schedules)} schedules)", cursor=new_cursor)
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)

    return db_schedule_sensor


db_schedule_sensor = build_db_schedule_sensor()

defs = dg.Definitions(assets=[interventions], jobs=[interventions_job], sensors=[db_schedule_sensor])
