"""How fresh each asset must be: Dagster's freshness policies (1.12+), set on the assets and
evaluated by the daemon every 30 seconds, never inside the runs that write the assets. A
stale asset shows as failing freshness in the UI (asset health), on the catalogue and in
the asset's page, whatever job, sensor or person was supposed to write it.

Cron policies say "written between the lower bound and the deadline of every cron tick"
(a missed nightly run is stale from its deadline on); time-window policies say "written
within the last ...". Today's events have an asset of their own (``intraday_events``), so
the half-hourly refresh never makes the nightly ``events`` look fresh.
"""

import datetime as dt

import dagster as dg

from .. import settings

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

#: The nightly ingest (``ingest_schedule`` 02:10 UTC, yesterday): written between 02:00 and
#: 03:00 every day (``questions``, ``user_last_access``, ``events``).
NIGHTLY_INGEST = dg.FreshnessPolicy.cron(deadline_cron="0 3 * * *", lower_bound_delta=HOUR, timezone="UTC")
#: Follows the nightly ingest by automation (features, KPIs): written between 02:00 and 03:30.
AFTER_NIGHTLY_INGEST = dg.FreshnessPolicy.cron(deadline_cron="30 3 * * *", lower_bound_delta=1.5 * HOUR, timezone="UTC")
#: Re-scored after the nightly ingest and by every calibration: between 02:00 and 04:00.
ABILITIES = dg.FreshnessPolicy.cron(deadline_cron="0 4 * * *", lower_bound_delta=2 * HOUR, timezone="UTC")
#: The risk model and the scores follow the nightly ingest: written between 02:00 and 04:30.
RISK = dg.FreshnessPolicy.cron(deadline_cron="30 4 * * *", lower_bound_delta=2.5 * HOUR, timezone="UTC")
#: Calibrated nightly (a warning after a missed night) or weekly, the alternative cadence.
CALIBRATION = dg.FreshnessPolicy.time_window(fail_window=8 * DAY, warn_window=26 * HOUR)
#: Every 30 minutes: a warning after one missed slot, stale after two.
INTRADAY = dg.FreshnessPolicy.time_window(
    fail_window=90 * dt.timedelta(minutes=1), warn_window=45 * dt.timedelta(minutes=1)
)
#: Batches come from schedules users keep in the database (daily by default, weekly allowed).
BATCHES = dg.FreshnessPolicy.time_window(fail_window=8 * DAY, warn_window=26 * HOUR)
#: The Monday report (``weekly_report_schedule`` 04:00 UTC): written between 04:00 and 06:00.
WEEKLY_REPORT = dg.FreshnessPolicy.cron(deadline_cron="0 6 * * 1", lower_bound_delta=2 * HOUR, timezone="UTC")


def heartbeat() -> dg.FreshnessPolicy:
    """The heartbeat's tables: stale after ``ALT42_HEARTBEAT_STALE_MINUTES`` (the same limit
    as the health alert), a warning after one missed 30-minute slot."""
    stale = dt.timedelta(minutes=settings.load().state.heartbeat_stale_minutes)
    warn = dt.timedelta(minutes=35)
    return dg.FreshnessPolicy.time_window(fail_window=stale, warn_window=warn if warn < stale else None)


#: Assets without a freshness policy, and why (a test keeps every other asset covered).
NO_POLICY = {
    "inactivity_alerts": "written only when a student crosses an inactivity threshold: no cadence to hold it to",
}
