"""Finding 3: freshness is Dagster's freshness policies on the assets, evaluated by the
daemon (not checks inside the jobs), and a missed nightly ingest shows as stale even though
today's events keep being refreshed every 30 minutes.

The daemon's own evaluation (``FreshnessDaemon``) runs over the real code location on a
test instance, at frozen times."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from alt42_pipeline import definitions
from alt42_pipeline.defs.freshness import NO_POLICY

ROOT = Path(__file__).resolve().parents[2]
DEFS = definitions.defs()


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_every_asset_has_a_freshness_policy_or_a_reason_not_to():
    graph = DEFS.resolve_asset_graph()
    missing = sorted(
        key.to_user_string()
        for key in graph.materializable_asset_keys
        if graph.get(key).freshness_policy is None and key.to_user_string() not in NO_POLICY
    )
    assert not missing, f"assets without a freshness policy (alt42_pipeline/defs/freshness.py): {missing}"
    assert set(NO_POLICY) <= {k.to_user_string() for k in graph.materializable_asset_keys}


def test_no_freshness_check_runs_inside_the_jobs():
    graph = DEFS.resolve_asset_graph()
    assert not [k for k in graph.asset_check_keys if "freshness" in k.name]
    assert not [s.name for s in DEFS.sensors or [] if "freshness" in s.name]


@pytest.fixture
def evaluate(instance):
    """Run the freshness daemon's evaluation over the code location at a frozen time."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="alt42_pipeline.definitions", working_directory=str(ROOT)),
        location_name="alt42_pipeline",
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace:

        def at(moment: dt.datetime, *names: str) -> dict[str, FreshnessState]:
            with freeze_time(moment):
                asyncio.run(FreshnessDaemon()._evaluate_assets(workspace))
            keys = [dg.AssetKey(n) for n in names]
            records = instance.get_freshness_state_records(keys)
            return {k.to_user_string(): records[k].freshness_state for k in keys if k in records}

        yield at


def _write(instance, moment: dt.datetime, asset: str, partition: str | None = None) -> None:
    with freeze_time(moment):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))


def test_a_missed_nightly_ingest_is_stale_although_today_is_refreshed(instance, evaluate):
    # the nightly ingest of 03-07 ran; the one of 03-08 02:10 did not
    _write(instance, _utc(2026, 3, 8, 2, 12), "events", "2026-03-07")
    _write(instance, _utc(2026, 3, 8, 2, 12), "questions")
    for half_hour in range(48):  # today's events, every 30 minutes, all day and night
        _write(instance, _utc(2026, 3, 8, 4, 5) + dt.timedelta(minutes=30 * half_hour), "intraday_events")
    states = evaluate(_utc(2026, 3, 9, 3, 30), "events", "questions", "intraday_events")
    assert states == {
        "events": FreshnessState.FAIL,
        "questions": FreshnessState.FAIL,
        "intraday_events": FreshnessState.PASS,
    }


def test_the_nightly_ingest_on_time_is_fresh_until_the_next_deadline(instance, evaluate):
    _write(instance, _utc(2026, 3, 9, 2, 12), "events", "2026-03-08")
    assert evaluate(_utc(2026, 3, 9, 3, 30), "events") == {"events": FreshnessState.PASS}
    assert evaluate(_utc(2026, 3, 10, 2, 59), "events") == {"events": FreshnessState.PASS}
    assert evaluate(_utc(2026, 3, 10, 3, 1), "events") == {"events": FreshnessState.FAIL}


def test_the_heartbeat_tables_go_stale_after_the_health_alerts_limit(instance, evaluate):
    _write(instance, _utc(2026, 3, 9, 10, 0), "student_state_cache")
    assert evaluate(_utc(2026, 3, 9, 10, 20), "student_state_cache") == {"student_state_cache": FreshnessState.PASS}
    assert evaluate(_utc(2026, 3, 9, 10, 40), "student_state_cache") == {"student_state_cache": FreshnessState.WARN}
    assert evaluate(_utc(2026, 3, 9, 11, 1), "student_state_cache") == {"student_state_cache": FreshnessState.FAIL}


def test_a_weekly_calibration_warns_but_is_not_stale(instance, evaluate):
    _write(instance, _utc(2026, 3, 1, 3, 10), "mirt_item_params")
    assert evaluate(_utc(2026, 3, 3, 12, 0), "mirt_item_params") == {"mirt_item_params": FreshnessState.WARN}
    assert evaluate(_utc(2026, 3, 9, 12, 0), "mirt_item_params") == {"mirt_item_params": FreshnessState.FAIL}
