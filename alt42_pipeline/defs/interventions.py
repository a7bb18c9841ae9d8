"""Dagster definitions of the interventions domain.

The ``interventions`` asset runs the batch for one day (its daily partition);
``interventions_job`` launches it by hand, from a backfill or from ``db_schedule_sensor``,
which turns the schedules users keep in ``batch_schedules`` into runs.
"""

import contextlib
import json

import dagster as dg

from ..clock import now
from ..interventions import (
    TARGET_JOBS,
    WEAK_WINDOW_DAYS,
    build_recommender,
    due_slots,
    list_schedules,
    parse_required_records,
    run_days,
    unresolved_failures,
)
from .freshness import BATCHES
from .resources import InterventionsResource, WarehouseResource
from .shared import (
    SERIAL_TAG,
    asset_spec,
    counts_table,
    daily,
    describe_partitions,
    k8s_tags,
    materializing,
    partition_days,
    preview,
    rounded,
    selected,
)

#: Tags a scheduled run carries: the schedule's name and id; ``SLOT_TAG`` is the schedule id +
#: due time (the run key).
SCHEDULE_TAG = "alt42/schedule"
SCHEDULE_ID_TAG = "alt42/schedule_id"
SLOT_TAG = "alt42/schedule_slot"
DUE_TAG = "alt42/due_at"
FIRST_DAY = daily.start.date()


@dg.multi_asset(
    specs=[
        asset_spec(
            "interventions",
            table="interventions",
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
            kinds={"python", "pandas", "sql"},
            description=(
                "One recommendation per student for the partition's day, for students with every "
                "required record that day (ALT42_REQUIRED_RECORDS) and no intervention yet. "
                "Students whose recommendation fails are stored in intervention_errors."
            ),
            freshness_policy=BATCHES,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "interventions_without_failures",
            asset="interventions",
            description="Every eligible student of the day(s) got a recommendation: no student has a stored "
            "error (intervention_errors) and still no intervention.",
        )
    ],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def interventions(context: dg.AssetExecutionContext, warehouse: WarehouseResource, batch: InterventionsResource):
    wh = warehouse.get()
    days = partition_days(context)
    if materializing(context):
        yield _run_batch(context, wh, days, batch.settings())
    unresolved = unresolved_failures(wh, days)
    yield from selected(
        context,
        [
            dg.AssetCheckResult(
                check_name="interventions_without_failures",
                passed=not any(unresolved.values()),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "unresolved_failures": sum(unresolved.values()),
                    "days_with_failures": ", ".join(d.isoformat() for d, n in sorted(unresolved.items()) if n),
                },
            )
        ],
    )


def _run_batch(context: dg.AssetExecutionContext, wh, days, options) -> dg.MaterializeResult:
    groups = parse_required_records(options.required_records)
    with contextlib.ExitStack() as stack:
        recommender = build_recommender(options)
        if hasattr(recommender, "close"):
            stack.callback(recommender.close)
        summary = run_days(  # one day, or every day of a backfill range
            wh,
            days,
            recommender,
            groups,
            run_id=context.run.run_id,
            chunk=options.recommender_chunk,
            on_day=lambda r: context.log.info("interventions %s: %s", r.date, r.counts),
        )
    counts = summary.counts
    processed, failed = counts["processed"], counts["failed"]
    if failed:
        context.log.warning(
            "%d of %d students failed (see intervention_errors for run %s); first: %s",
            failed,
            failed + processed,
            context.run.run_id,
            summary.first_error,
        )
        if summary.systemic_failure_days:
            # The errors are stored; failing the run makes a systemic failure visible to retries.
            days_failed = ", ".join(str(d) for d in summary.systemic_failure_days)
            raise dg.Failure(description=f"every eligible student failed for {days_failed}", metadata=counts)
    rows = wh.counts_by("interventions", "date", {"date": days})
    per_day = {
        day.isoformat(): {
            "dagster/row_count": rows.get(day, 0),
            **report.counts,
            "recommendations": counts_table(report.recommendations, "recommendation", "students"),
            "seconds": {stage: rounded(s, 3) for stage, s in report.seconds.items()},
            "preview": preview(report.sample),
        }
        for day, report in summary.reports.items()
    }
    common = {
        "recommender": f"{recommender.name} {recommender.version}",
        "required_records": "; ".join(str(g) for g in groups),
    }
    return dg.MaterializeResult(metadata={**common, **describe_partitions(context, per_day, counts)})


interventions_job = dg.define_asset_job(
    "interventions_job",
    selection=[interventions],
    description="The intervention batch for one day (the partition); scheduled by db_schedule_sensor.",
    # One batch at a time: two runs of one day would race on the (student, date) key.
    tags={**k8s_tags("medium"), SERIAL_TAG: "interventions", "dagster/max_runtime": "3600"},
)

#: The jobs schedules can start, by name; every schedule target must name one of them.
SCHEDULED_JOBS = {job.name: job for job in (interventions_job,)}
assert set(TARGET_JOBS.values()) == set(SCHEDULED_JOBS), "every schedule target needs a job"


@dg.sensor(
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
    tick = due_slots(schedules, now(), last_fired)
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
                tags={
                    SCHEDULE_TAG: slot.schedule.name,
                    SCHEDULE_ID_TAG: str(slot.schedule.id),
                    SLOT_TAG: slot.key,
                    DUE_TAG: slot.due.isoformat(),
                },
            )
        )
    new_cursor = json.dumps(tick.cursor, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason=f"no schedule due ({len(schedules)} schedules)", cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)
