"""Freshness checks of every asset, and the sensor that evaluates them (replaces the legacy
hand-run "latest updated_at / computed_at / fitted_at" SQL).

Each check passes when the asset was materialized recently enough: by a deadline (a cron
tick) no earlier than a lower bound before it. Daily and weekly partitions expose the
current day/week (``end_offset=1``), so a time-partition check would demand today's
partition by the deadline; the schedules write yesterday's, hence last-update checks.

Dagster 1.13 marks these builders as superseded by ``FreshnessPolicy`` on the assets; that
policy feeds the asset's health, not an asset check. The operators' routine (and the issue)
is asset checks with a history per asset, so the builders stay, their warning silenced here.
"""

import datetime as dt
import warnings

import dagster as dg

from .shared import k8s_tags

HOURS = dt.timedelta(hours=1)
DAYS = dt.timedelta(days=1)

# (asset keys, deadline cron in UTC or None for "now", lower bound before it), with the
# schedule that should have written them in time
_RULES: list[tuple[list[str], str | None, dt.timedelta]] = [
    # ingest_schedule 02:10 (questions, events, features_topic_daily), weekly_kpi_schedule 02:40
    (["questions", "events", "features_topic_daily", "weekly_kpi"], "0 3 * * *", 3 * HOURS),
    # nightly calibration 03:00, or the weekly alternative (Sundays 03:10): at most 8 days old
    (["mirt_item_params", "mirt_fit_meta"], None, 8 * DAYS),
    # re-scored daily 04:30 (and by every calibration)
    (["mirt_ability"], "0 6 * * *", 2 * HOURS),
    # refreshed by ingest_job with the catalogue, daily 02:10
    (["user_last_access"], "0 3 * * *", 3 * HOURS),
    # the heartbeat (every 30 minutes) writes these; an hour without a write is stale
    (
        ["student_state_cache", "state_change_log", "scenario_evaluation_log", "event_processing_log", "heartbeat_log"],
        None,
        HOURS,
    ),
    # inactivity_sensor launches runs only when students cross a threshold: allow a week
    (["inactivity_alerts"], None, 8 * DAYS),
    # batch schedules live in the database (default daily 09:00 UTC); weekly ones are allowed
    (["interventions"], None, 8 * DAYS),
    # weekly_report_schedule Mondays 04:00
    (["weekly_report"], "0 6 * * 1", 2 * HOURS),
]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_checks = [
        check
        for keys, deadline, lower_bound in _RULES
        for check in dg.build_last_update_freshness_checks(
            assets=[dg.AssetKey(k) for k in keys], deadline_cron=deadline, lower_bound_delta=lower_bound, timezone="UTC"
        )
    ]
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="freshness_checks_sensor",
        minimum_interval_seconds=600,
        tags=k8s_tags("small"),
    )
