"""Dagster definitions of the state domain: the heartbeat, inactivity alerts, pipeline health.

Each definition is a thin shell over :mod:`alt42_pipeline.state`: it takes the state
domain's settings from its resource, calls the core and reports what happened as metadata.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from ..clock import utcnow
from ..state import (
    HeartbeatConfig,
    HeartbeatSummary,
    NotificationError,
    checks,
    health,
    inactivity,
    latest_heartbeat,
    load_rules,
    run_heartbeat,
    slot_start,
)
from .freshness import heartbeat
from .resources import StateResource, WarehouseResource
from .shared import OWNERS, SERIAL_TAG, asset_spec, k8s_tags, preview, selected, table_metadata

HEARTBEAT_MINUTES = 30
#: A heartbeat normally takes seconds; one still running after 20 minutes is stuck.
HEARTBEAT_MAX_RUNTIME_S = 20 * 60

_SPECS = {
    "student_state_cache": "Current state of every student (active, idle, inactive, at_risk), refreshed by the heartbeat.",
    "state_change_log": "Every change of a student's state, with the reason.",
    "scenario_evaluation_log": "Scenario rules that started firing for a student, with the rule version and inputs.",
    "event_processing_log": "Events consumed by a heartbeat, each exactly once.",
    "heartbeat_log": "One row per heartbeat run: success, students processed, errors, duration.",
}


def _spec(key: str, description: str) -> dg.AssetSpec:
    return asset_spec(
        key,
        table=key,
        description=description,
        deps=["events", "intraday_events", "mirt_ability"]
        if key == "student_state_cache"
        else ["events", "intraday_events"],
        kinds={"sql", "pandas"},
        group_name="state",
        skippable=True,
        freshness_policy=heartbeat(),
    )


#: How many of the latest heartbeat_log observations the health check looks through for a dry run.
DRY_RUN_LOOKBACK = 20


def heartbeat_metadata(summary: HeartbeatSummary) -> dict:
    """The run's metadata: the heartbeat's legacy JSON result (``results`` as a JSON value)."""
    return {k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in summary.legacy().items()}


def latest_dry_run(instance: dg.DagsterInstance) -> dt.datetime | None:
    """The latest successful dry-run heartbeat among those reported to the instance."""
    for record in instance.fetch_observations(dg.AssetKey("heartbeat_log"), limit=DRY_RUN_LOOKBACK).records:
        at = health.dry_run_at({k: v.value for k, v in record.asset_observation.metadata.items()})
        if at is not None:
            return at
    return None


def _states(summary: HeartbeatSummary) -> dg.MetadataValue:
    return preview(pd.DataFrame({"state": list(summary.states), "students": list(summary.states.values())}))


@dg.multi_asset(
    name="student_state",
    specs=[_spec(k, d) for k, d in _SPECS.items()],
    description="The heartbeat: consume new events, refresh every student's state, log changes.",
    can_subset=False,
)
def student_state(context: dg.AssetExecutionContext, warehouse: WarehouseResource, state: StateResource):
    s = state.settings()
    rules = load_rules(s.scenarios_file or None)
    summary = run_heartbeat(
        warehouse.get(),
        rules,
        HeartbeatConfig.from_settings(s),
        run_id=context.run.run_id,
        now=utcnow(),
        dry_run=s.heartbeat_dry_run,
    )
    meta = heartbeat_metadata(summary)
    if summary.dry_run:  # nothing written, nothing to check: the observation is its trace
        context.log.info("dry run (ALT42_HEARTBEAT_DRY_RUN): nothing written")
        context.log_event(dg.AssetObservation(asset_key="heartbeat_log", metadata=meta))
        return
    cache_meta = {
        "dagster/row_count": sum(summary.states.values()),
        **{f"students_{state}": n for state, n in summary.states.items()},
        "students_processed": summary.students_processed,
        "errors": summary.errors,
        "rules_version": rules.version,
        "students_by_state": _states(summary),
        "first_errors": preview(pd.DataFrame(summary.error_details[:10], columns=["user_id", "error"])),
    }
    yield dg.MaterializeResult(asset_key="student_state_cache", metadata=cache_meta)
    yield dg.MaterializeResult(asset_key="state_change_log", metadata={"rows_added": summary.state_changes})
    yield dg.MaterializeResult(
        asset_key="scenario_evaluation_log",
        metadata={"rows_added": summary.scenarios_fired, "rules_version": rules.version},
    )
    yield dg.MaterializeResult(asset_key="event_processing_log", metadata={"rows_added": summary.events_consumed})
    yield dg.MaterializeResult(asset_key="heartbeat_log", metadata=meta)


# One check per table the heartbeat writes: what the latest heartbeat wrote is consistent.
# The heartbeat writes its five tables at once (a multi-asset that cannot be split), so its
# checks are one step of their own, reading the warehouse, any of which runs alone. A dry
# run, which writes nothing, skips them instead of reporting on a heartbeat that left no trace.
_HEARTBEAT_CHECKS = [
    dg.AssetCheckSpec(
        "student_states_valid",
        asset="student_state_cache",
        description="Every cached state is one of the state machine's states.",
    ),
    dg.AssetCheckSpec(
        "state_changes_match_cache",
        asset="state_change_log",
        description="The latest heartbeat's state changes lead to the cached states.",
    ),
    dg.AssetCheckSpec(
        "scenario_firings_match_rules",
        asset="scenario_evaluation_log",
        description="The latest firings name loaded rules at the loaded version.",
    ),
    dg.AssetCheckSpec(
        "consumed_events_exist",
        asset="event_processing_log",
        description="Every event the latest heartbeat consumed exists.",
    ),
    dg.AssetCheckSpec(
        "heartbeat_without_student_errors",
        asset="heartbeat_log",
        description="The latest heartbeat met no student with bad data (a warning: those students are "
        "skipped, not lost).",
    ),
]


def _offending(spec: dg.AssetCheckSpec, count: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=spec.asset_key, check_name=spec.name, passed=count == 0, metadata={"offending_rows": count}
    )


@dg.multi_asset_check(
    specs=_HEARTBEAT_CHECKS,
    can_subset=True,
    name="heartbeat_checks",
    description="What the latest heartbeat wrote is consistent, table by table.",
)
def heartbeat_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, state: StateResource):
    wh = warehouse.get()
    latest = latest_heartbeat(wh)
    if latest is None:
        yield from selected(
            context,
            [
                dg.AssetCheckResult(
                    asset_key=spec.asset_key,
                    check_name=spec.name,
                    passed=False,
                    metadata={"problem": "no successful heartbeat recorded yet"},
                )
                for spec in _HEARTBEAT_CHECKS
            ],
        )
        return
    wanted = {key.name for key in context.selected_asset_check_keys}
    specs = {spec.name: spec for spec in _HEARTBEAT_CHECKS}
    if "student_states_valid" in wanted:
        yield _offending(specs["student_states_valid"], checks.invalid_states(wh))
    if "state_changes_match_cache" in wanted:
        yield _offending(specs["state_changes_match_cache"], checks.changes_not_in_cache(wh, latest.heartbeat_id))
    if "scenario_firings_match_rules" in wanted:
        rules = load_rules(state.settings().scenarios_file or None)
        yield _offending(
            specs["scenario_firings_match_rules"], checks.firings_off_rules(wh, latest.heartbeat_id, rules)
        )
    if "consumed_events_exist" in wanted:
        yield _offending(specs["consumed_events_exist"], checks.consumed_events_missing(wh, latest.heartbeat_id))
    if "heartbeat_without_student_errors" in wanted:
        yield dg.AssetCheckResult(
            asset_key="heartbeat_log",
            check_name="heartbeat_without_student_errors",
            passed=latest.errors == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"errors": latest.errors, "first_errors": dg.MetadataValue.json(latest.error_details[:10])},
        )


HEARTBEAT_CHECKS = [heartbeat_checks]


state_refresh_job = dg.define_asset_job(
    "state_refresh_job",
    selection=dg.AssetSelection.assets(student_state),
    description="The heartbeat: refresh student state (never two at once: alt42/serial=state).",
    tags={**k8s_tags("small"), SERIAL_TAG: "state", "dagster/max_runtime": str(HEARTBEAT_MAX_RUNTIME_S)},
)


@dg.sensor(
    job=state_refresh_job,
    minimum_interval_seconds=HEARTBEAT_MINUTES * 60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the state refresh every 30 minutes, once per 30-minute slot.",
)
def heartbeat_sensor(context: dg.SensorEvaluationContext):
    slot = slot_start(utcnow(), HEARTBEAT_MINUTES).isoformat()
    if context.cursor == slot:
        return dg.SkipReason(f"the heartbeat of slot {slot} was already requested")
    # The run key is the slot: a restarted daemon asking again for the same slot is deduplicated.
    request = dg.RunRequest(run_key=f"heartbeat:{slot}", tags={"alt42/heartbeat_slot": slot})
    return dg.SensorResult(run_requests=[request], cursor=slot)


class InactivityWindow(dg.Config):
    """Crossings to alert on: last activity crossing a threshold in (since, until], ISO UTC.
    Empty values mean the last 24 hours up to now (for a manual run)."""

    since: str = ""
    until: str = ""


@dg.asset(
    deps=["student_state_cache"],
    description="Students crossing an inactivity threshold (idle and inactive days), one row per crossing; "
    "posted to ALT42_ALERT_WEBHOOK_URL when set.",
    owners=OWNERS,
    kinds={"sql"},
    group_name="state",
    metadata=table_metadata("inactivity_alerts"),
)
def inactivity_alerts(
    context: dg.AssetExecutionContext, config: InactivityWindow, warehouse: WarehouseResource, state: StateResource
) -> dg.MaterializeResult:
    s = state.settings()
    wh = warehouse.get()
    now = utcnow()
    until = dt.datetime.fromisoformat(config.until) if config.until else now
    since = dt.datetime.fromisoformat(config.since) if config.since else until - dt.timedelta(days=1)
    new = inactivity.record_alerts(wh, inactivity.thresholds(s), since, until, detected_at=now)
    # a delivery failing after its retries fails the run; what is left goes with the next one
    notified = inactivity.deliver_pending(wh, s.alert_webhook_url) if s.alert_webhook_url else 0
    context.log.info("%d new inactivity alerts in (%s, %s], %d notified", new, since, until, notified)
    return dg.MaterializeResult(
        metadata={
            "new_alerts": new,
            "notified": notified,
            "window_since": since.isoformat(),
            "window_until": until.isoformat(),
            "dagster/row_count": wh.count("inactivity_alerts"),  # the table's rows, every alert so far
        }
    )


@dg.asset_check(
    asset=inactivity_alerts,
    description="With a webhook configured, every alert has been delivered (pending ones go with the next run).",
)
def inactivity_alerts_delivered(warehouse: WarehouseResource, state: StateResource) -> dg.AssetCheckResult:
    pending = len(inactivity.pending_alerts(warehouse.get()))
    configured = bool(state.settings().alert_webhook_url)
    return dg.AssetCheckResult(
        passed=not configured or pending == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pending_alerts": pending, "webhook_configured": configured},
    )


inactivity_alert_job = dg.define_asset_job(
    "inactivity_alert_job",
    selection=dg.AssetSelection.assets(inactivity_alerts),
    description="Record (and notify) students newly crossing an inactivity threshold.",
    tags={**k8s_tags("small"), SERIAL_TAG: "inactivity", "dagster/max_runtime": "600"},
)


@dg.sensor(
    job=inactivity_alert_job,
    minimum_interval_seconds=10 * 60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds students newly crossing an inactivity threshold since the last tick "
    "(an indexed range count) and launches a run that records and notifies them.",
)
def inactivity_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, state: StateResource):
    now = utcnow()
    if not context.cursor:
        return dg.SensorResult(skip_reason="first tick: watching for crossings from now on", cursor=now.isoformat())
    since = dt.datetime.fromisoformat(context.cursor)
    found = inactivity.count_crossings(warehouse.get(), inactivity.thresholds(state.settings()), since, now)
    if not found:
        return dg.SensorResult(skip_reason=f"no threshold crossing in ({since}, {now}]", cursor=now.isoformat())
    window = {"since": since.isoformat(), "until": now.isoformat()}
    request = dg.RunRequest(
        run_key=f"inactivity:{window['since']}:{window['until']}",
        run_config=dg.RunConfig(ops={"inactivity_alerts": InactivityWindow(**window)}),
    )
    return dg.SensorResult(run_requests=[request], cursor=now.isoformat())


@dg.sensor(
    minimum_interval_seconds=5 * 60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts (log and webhook) once per incident when no successful heartbeat has been "
    "recorded for ALT42_HEARTBEAT_STALE_MINUTES, and clears when it recovers (in dry-run mode, "
    "dry-run heartbeats count).",
)
def pipeline_health_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, state: StateResource):
    s = state.settings()
    now = utcnow()
    cursor = health.HealthCursor.loads(context.cursor, now)
    latest = latest_heartbeat(warehouse.get())
    dry = latest_dry_run(context.instance) if s.heartbeat_dry_run else None
    alive = health.sign_of_life(latest and latest.timestamp, dry, s.heartbeat_dry_run)
    stale_after = dt.timedelta(minutes=s.heartbeat_stale_minutes)
    verdict = health.assess(alive, cursor, now, stale_after, dry_run_mode=s.heartbeat_dry_run)
    if verdict.action in (health.ALERT, health.RECOVERED):
        (context.log.error if verdict.action == health.ALERT else context.log.info)(verdict.message)
        if s.alert_webhook_url:
            try:
                health.post_alert(verdict, s.alert_webhook_url)
            except NotificationError as exc:
                # Keep the old cursor: the next evaluation tries to deliver this news again.
                context.log.error(f"could not deliver the health alert: {exc}")
                return dg.SkipReason(f"{verdict.message}; webhook delivery failed, will retry")
    return dg.SensorResult(skip_reason=verdict.message, cursor=verdict.cursor.dumps())
