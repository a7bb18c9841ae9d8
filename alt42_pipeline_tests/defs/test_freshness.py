"""Every asset has a freshness check, and the checks expect what the schedules deliver."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from alt42_pipeline import definitions
from alt42_pipeline.defs.freshness import freshness_checks

defs = definitions.defs()


def test_every_asset_has_a_freshness_check():
    graph = defs.resolve_asset_graph()
    checked = {key.asset_key for key in graph.asset_check_keys if key.name == "freshness_check"}
    missing = sorted(k.to_user_string() for k in set(graph.materializable_asset_keys) - checked)
    assert not missing, f"assets without a freshness check (add them to alt42_pipeline/defs/freshness.py): {missing}"


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("asset", "materialized", "checked", "fresh"),
    [
        ("events", _utc(2026, 3, 9, 2, 15), _utc(2026, 3, 9, 3, 30), True),  # today's 02:10 ingest
        ("events", _utc(2026, 3, 8, 2, 15), _utc(2026, 3, 9, 3, 30), False),  # only yesterday's
        ("events", _utc(2026, 3, 8, 2, 15), _utc(2026, 3, 9, 2, 50), True),  # before today's deadline
        ("mirt_item_params", _utc(2026, 3, 1, 3, 10), _utc(2026, 3, 8, 12, 0), True),  # weekly cadence allowed
        ("mirt_item_params", _utc(2026, 2, 27, 3, 10), _utc(2026, 3, 8, 12, 0), False),
        ("weekly_report", _utc(2026, 3, 9, 4, 5), _utc(2026, 3, 12, 9, 0), True),  # this Monday's report
        ("weekly_report", _utc(2026, 3, 2, 4, 5), _utc(2026, 3, 9, 7, 0), False),  # last Monday's only
    ],
)
def test_freshness_check_against_the_schedule(asset, materialized, checked, fresh):
    key = dg.AssetKey(asset)
    check = next(c for c in freshness_checks if key in {k.asset_key for k in c.check_keys})
    with dg.DagsterInstance.ephemeral() as instance:
        with freeze_time(materialized):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        with freeze_time(checked):
            result = dg.materialize([check], instance=instance, selection=dg.AssetSelection.checks_for_assets(key))
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is fresh
