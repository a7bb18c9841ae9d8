"""Ingest: source databases -> item catalogue, canonical events (+ rejects), last access."""

from collections import Counter

import dagster as dg

from ..flows.catalogue import refresh_catalogue
from ..flows.ingest import ingest_day
from ..flows.last_access import refresh_last_access
from ..warehouse import utcnow
from .checks import keys_check, rows_check
from .common import OWNERS, partition_days, preview
from .partitions import daily
from .resources import SourcesResource, WarehouseResource

GROUP = "ingest"


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "mysql", "pandas"},
    description="Item catalogue: every question of the assessment bank and of Moodle, with its "
    "topic, anchor tag and the reference IRT parameters stored in question.meta.",
    check_specs=[dg.AssetCheckSpec("questions_keys_unique", asset="questions")],
)
def questions(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource):
    wh = warehouse.get()
    result = refresh_catalogue(wh, sources.assessment_engine(), sources.moodle_engine(), sources.prefix(), utcnow())
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
    group_name=GROUP,
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
    wh = warehouse.get()
    now = utcnow()
    days = list(partition_days(context))
    results = []
    for i, day in enumerate(days, 1):
        results.append(ingest_day(wh, sources.assessment_engine(), sources.moodle_engine(), sources.prefix(), day, now))
        context.log.info("events %s (%s/%s): %s events, %s rejected", day, i, len(days), results[-1].events, results[-1].rejected)
    n_events = sum(r.events for r in results)
    n_rejected = sum(r.rejected for r in results)
    reasons = dict(sum((Counter(r.reject_reasons) for r in results), Counter()))
    written = wh.read("events", {"event_date": days}, columns=["event_id", "user_id", "occurred_at"]) if len(days) <= 7 else None
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
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mysql", "pandas"},
    description="Snapshot of Moodle's user_lastaccess: last access of each student to each course.",
    check_specs=[dg.AssetCheckSpec("user_last_access_keys_unique", asset="user_last_access")],
)
def user_last_access(warehouse: WarehouseResource, sources: SourcesResource):
    engine = sources.moodle_engine()
    if engine is None:
        raise dg.Failure("ALT42_MOODLE_URL is empty: there is no Moodle to read user_lastaccess from")
    frame = refresh_last_access(warehouse.get(), engine, sources.prefix(), utcnow())
    yield dg.MaterializeResult(metadata={"dagster/row_count": len(frame), "preview": preview(frame)})
    yield keys_check("user_last_access_keys_unique", frame, ["user_id", "course_id"])


defs = dg.Definitions(assets=[questions, events, user_last_access])
