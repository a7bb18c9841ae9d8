"""Finding 1: a run over several partitions (a single-run backfill) reports one
materialization per partition, and each describes its own partition: the day's rows, the
week's rows, the day's batch counts; the run's totals are labelled ``range_*``."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from alt42_pipeline.defs.interventions import interventions
from alt42_pipeline.defs.reports import weekly_report
from alt42_pipeline.defs.spine import events, features_topic_daily, questions, weekly_kpi
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import SMALL_DEMO, make_resources

ASSETS = [questions, events, features_topic_daily, weekly_kpi, interventions, weekly_report]
DAYS = {
    "dagster/asset_partition_range_start": SMALL_DEMO.first_day.isoformat(),
    "dagster/asset_partition_range_end": SMALL_DEMO.last_day.isoformat(),
}
#: The week before the demo's (no data) and the demo's week.
WEEKS = {"dagster/asset_partition_range_start": "2026-02-23", "dagster/asset_partition_range_end": "2026-03-02"}


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, small_platform):
    """The small demo's spine, interventions and reports, each materialized in one range run."""
    from alt42_pipeline.demo.write import write_assessment, write_moodle
    from alt42_pipeline.warehouse import make_engine

    folder = tmp_path_factory.mktemp("partition_metadata")
    asmt, mdl, wh_url = (f"sqlite:///{folder / n}" for n in ("a.db", "m.db", "wh.db"))
    write_assessment(small_platform, make_engine(asmt))
    write_moodle(small_platform, make_engine(mdl))
    mp = pytest.MonkeyPatch()
    mp.setenv("ALT42_REPORT_DIR", str(folder / "reports"))
    resources = make_resources(wh_url, asmt, mdl)
    mp.undo()
    results = {}
    with dg.instance_for_test() as instance:
        for name, selection, tags in [
            ("questions", [questions], {}),
            ("days", [events, features_topic_daily, interventions], DAYS),
            ("weeks", [weekly_kpi], WEEKS),
            ("reports", [weekly_report], WEEKS),  # ended weeks only: partitions of their own
        ]:
            result = dg.materialize(
                ASSETS, selection=selection, resources=resources, instance=instance, tags=tags, raise_on_error=False
            )
            assert result.success, name
            results[name] = result
        yield results, Warehouse(wh_url)


def _by_partition(result, node: str) -> dict[str, dict]:
    return {
        m.partition: {k: v.value for k, v in m.metadata.items()} for m in result.asset_materializations_for_node(node)
    }


def _stored(wh: Warehouse, table: str, column: str) -> dict[str, int]:
    """Rows per partition value, as the warehouse holds them."""
    counts = wh.read(table, columns=[column])[column].map(lambda d: str(d)[:10]).value_counts()
    return {key: int(n) for key, n in counts.items()}


def test_each_day_of_events_carries_its_own_row_count(backfilled):
    results, wh = backfilled
    per_day = _by_partition(results["days"], "events")
    stored = _stored(wh, "events", "event_date")
    assert sorted(per_day) == sorted(stored) and len(per_day) == 5
    assert {day: md["dagster/row_count"] for day, md in per_day.items()} == stored
    assert len(set(stored.values())) > 1, "the demo's days differ in size: equal counts would prove nothing"
    for md in per_day.values():  # the run's total is there too, labelled as the range's
        assert md["range_events"] == sum(stored.values())
        assert md["range"] == f"{SMALL_DEMO.first_day} .. {SMALL_DEMO.last_day}"
        assert md["range_partitions"] == 5


def test_each_day_of_features_and_interventions_describes_that_day(backfilled):
    results, wh = backfilled
    features = _by_partition(results["days"], "features_topic_daily")
    stored = _stored(wh, "features_topic_daily", "date")
    assert {day: md["dagster/row_count"] for day, md in features.items()} == stored
    batches = _by_partition(results["days"], "interventions")
    written = _stored(wh, "interventions", "date")
    assert {day: md["processed"] for day, md in batches.items() if md["processed"]} == written
    assert {day: md["dagster/row_count"] for day, md in batches.items() if md["dagster/row_count"]} == written


def test_each_week_describes_its_week(backfilled):
    results, wh = backfilled
    kpis = _by_partition(results["weeks"], "weekly_kpi")
    assert kpis["2026-02-23"]["dagster/row_count"] == 0
    assert kpis["2026-03-02"]["dagster/row_count"] == wh.count("weekly_kpi", {"week_start": dt.date(2026, 3, 2)}) > 0
    reports = _by_partition(results["reports"], "weekly_report")
    assert reports["2026-02-23"]["attempts"] == 0
    assert reports["2026-03-02"]["attempts"] > 0
    assert str(reports["2026-02-23"]["path"]).endswith("weekly-report-2026-02-23.html")
    assert str(reports["2026-03-02"]["path"]).endswith("weekly-report-2026-03-02.html")
