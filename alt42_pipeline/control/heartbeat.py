"""One heartbeat outside Dagster: ``alt42 heartbeat`` (cron-era monitoring, debugging) and
the doctor's dry run. The same flow as the ``student_state`` asset; its result is reported to
the Dagster instance, when there is one, as the asset's observation (a dry run's only trace)."""

from __future__ import annotations

import dagster as dg

from ..clock import utcnow
from ..settings import Settings
from ..state import HeartbeatConfig, HeartbeatSummary, RuleSet, load_rules, run_heartbeat
from ..warehouse import Warehouse


def run_once(
    s: Settings,
    wh: Warehouse,
    *,
    dry_run: bool,
    rules: RuleSet | None = None,
    instance: dg.DagsterInstance | None = None,
) -> HeartbeatSummary:
    """One heartbeat on ``wh`` with the configured rules (``rules`` when already loaded).

    Raises :class:`~alt42_pipeline.state.RuleFileError` for a bad rule file and
    :class:`~alt42_pipeline.state.HeartbeatFailed` (carrying the failed result) when the
    heartbeat cannot complete.
    """
    from ..defs.state import heartbeat_metadata

    rules = rules or load_rules(s.state.scenarios_file or None)
    summary = run_heartbeat(wh, rules, HeartbeatConfig.from_settings(s.state), now=utcnow(), dry_run=dry_run)
    if instance is not None:
        instance.report_runless_asset_event(dg.AssetObservation("heartbeat_log", metadata=heartbeat_metadata(summary)))
    return summary
