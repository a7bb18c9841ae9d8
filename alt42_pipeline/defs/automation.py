"""Declarative automation: the conditions under which downstream assets follow their
upstreams, and the sensor that evaluates them (on by default).

Wall-clock offsets (ingest at 02:10, KPIs at 02:40, ...) guess how long the step before
takes; a condition waits for it. Schedules stay where a time of day is the point: the
nightly ingest of yesterday, the calibration (nightly or weekly, switched by an operator),
the Monday report. What follows what:

``features_topic_daily``
    ``eager``: the day's features as soon as that day's events are written.
``weekly_kpi``
    :data:`WEEK_OF_UPDATED_DAYS`: the week (current or last) whose days' events changed.
``mirt_ability``
    :data:`AFTER_NEW_ANSWERS`: re-scored once new events or new item parameters are written.
"""

import datetime as dt

import dagster as dg

from .shared import k8s_tags

#: The current and the last weekly partition (the two that fit in the 14 days before the end
#: of the current one) whose upstream days were updated since the week was last requested.
#: Catalogue changes alone (``questions``, rewritten nightly) do not recompute the weeks; the
#: current week's later days do not exist yet, so missing upstream days do not hold it back.
WEEK_OF_UPDATED_DAYS = (
    dg.AutomationCondition.in_latest_time_window(lookback_delta=dt.timedelta(days=14))
    & dg.AutomationCondition.any_deps_updated().ignore(dg.AssetSelection.assets("questions")).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("week of updated days")

#: An unpartitioned asset that follows its upstreams: requested once any of them was
#: updated since it was last requested or updated, when none of them is being written.
#: (``eager`` would also wait for every partition of a partitioned upstream to exist.)
AFTER_NEW_ANSWERS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after its upstreams update")

automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    run_tags={**k8s_tags("medium"), "alt42/domain": "automation"},
    description="Evaluates the assets' automation conditions every minute: features after their "
    "day's events, the KPIs of the weeks whose days changed, abilities after new answers.",
)
