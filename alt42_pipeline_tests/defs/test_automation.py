"""Finding 4: every schedule and sensor has a deliberate default status, pinned here and
listed in the README's automation table; downstream assets follow their upstreams by
automation conditions instead of wall-clock offsets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from alt42_pipeline import definitions

ROOT = Path(__file__).resolve().parents[2]
DEFS = definitions.defs()
RUNNING, STOPPED = "RUNNING", "STOPPED"

#: Every schedule and sensor of a fresh deployment and whether it runs. Changing one is a
#: decision: change it here, in the README's automation table, and say why in the commit.
DEFAULTS = {
    "ingest_schedule": RUNNING,
    "intraday_events_schedule": RUNNING,
    "irt_nightly_schedule": RUNNING,
    "irt_weekly_schedule": STOPPED,  # the alternative cadence: start it and stop the nightly one
    "weekly_report_schedule": RUNNING,
    "heartbeat_sensor": RUNNING,
    "inactivity_sensor": RUNNING,
    "pipeline_health_sensor": RUNNING,
    "db_schedule_sensor": RUNNING,
    "automation_condition_sensor": RUNNING,
}


def _automation() -> dict[str, str]:
    return {d.name: d.default_status.value for d in [*(DEFS.schedules or []), *(DEFS.sensors or [])]}


def test_every_schedule_and_sensor_has_its_pinned_default():
    assert _automation() == DEFAULTS


def test_runs_of_the_automation_carry_a_pod_size():
    from alt42_pipeline.defs.shared import size_of

    sensor = next(s for s in DEFS.sensors or [] if s.name == "automation_condition_sensor")
    assert size_of(sensor.run_tags) == "medium"


def _readme_table() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Automation", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_readme_table_lists_every_schedule_and_sensor_with_its_default():
    rows = _readme_table()
    assert set(rows) == set(DEFAULTS)
    for name, (_, _cadence, default, _what) in rows.items():
        assert default.lower() == DEFAULTS[name].lower(), name
    for schedule in DEFS.schedules or []:
        assert f"`{schedule.cron_schedule}`" in rows[schedule.name][1], schedule.name


def test_no_two_schedules_are_chained_by_a_clock_offset():
    """What follows another asset has an automation condition, not a schedule minutes later."""
    graph = DEFS.resolve_asset_graph()
    followers = {k.to_user_string() for k in graph.materializable_asset_keys if graph.get(k).automation_condition}
    assert {"features_topic_daily", "weekly_kpi", "mirt_ability"} <= followers
    scheduled = {s.job_name for s in DEFS.schedules or []}
    assert not scheduled & {"weekly_kpi_job", "irt_rescore_job"}


# -- the conditions, evaluated as the sensor would ------------------------------------------------


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


class Ticks:
    """Automation ticks at given times over the real definitions, on a test instance."""

    def __init__(self, instance):
        self.instance = instance
        self.cursor = None

    def at(self, moment: dt.datetime) -> dict[str, set[str | None]]:
        result = dg.evaluate_automation_conditions(
            defs=DEFS, instance=self.instance, evaluation_time=moment, cursor=self.cursor
        )
        self.cursor = result.cursor
        graph = DEFS.resolve_asset_graph()
        return {
            key.to_user_string(): set(result.get_requested_partitions(key))
            for key in graph.materializable_asset_keys
            if result.get_num_requested(key)
        }

    def wrote(self, moment: dt.datetime, asset: str, partition: str | None = None) -> None:
        with freeze_time(moment):
            self.instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))


@pytest.fixture
def ticks(instance):
    return Ticks(instance)


def test_the_nightly_ingest_is_followed_by_features_the_week_and_abilities(ticks):
    ticks.at(_utc(2026, 3, 4, 2, 0))  # the first tick only starts watching
    ticks.wrote(_utc(2026, 3, 4, 2, 11), "events", "2026-03-03")  # a Tuesday
    requested = ticks.at(_utc(2026, 3, 4, 2, 12))
    assert requested["features_topic_daily"] == {"2026-03-03"}
    assert requested["weekly_kpi"] == {"2026-03-02"}  # the current week
    assert requested["mirt_ability"] == {None}
    assert ticks.at(_utc(2026, 3, 4, 2, 13)) == {}  # once


def test_on_monday_the_week_that_just_ended_is_refreshed_not_the_new_one(ticks):
    ticks.at(_utc(2026, 3, 9, 2, 0))
    ticks.wrote(_utc(2026, 3, 9, 2, 11), "events", "2026-03-08")  # Sunday
    ticks.wrote(_utc(2026, 3, 9, 2, 11), "questions")
    assert ticks.at(_utc(2026, 3, 9, 2, 12))["weekly_kpi"] == {"2026-03-02"}


def test_a_rewritten_catalogue_alone_recomputes_no_week(ticks):
    ticks.at(_utc(2026, 3, 4, 2, 0))
    ticks.wrote(_utc(2026, 3, 4, 2, 11), "questions")
    assert "weekly_kpi" not in ticks.at(_utc(2026, 3, 4, 2, 12))
