"""The spine's assets materialized through Dagster on the demo platform (SQLite and PostgreSQL)."""

import datetime as dt

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from alt42_pipeline.defs.spine import (
    events,
    features_topic_daily,
    intraday_events,
    questions,
    user_last_access,
    weekly_kpi,
)
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import SMALL_DEMO, make_resources

ASSETS = [questions, events, intraday_events, user_last_access, features_topic_daily, weekly_kpi]
RANGE = {
    "dagster/asset_partition_range_start": SMALL_DEMO.first_day.isoformat(),
    "dagster/asset_partition_range_end": SMALL_DEMO.last_day.isoformat(),
}


def _run_spine(resources, instance):
    for selection, kwargs in [
        ([questions, user_last_access], {}),
        ([events, features_topic_daily], {"tags": RANGE}),
        ([weekly_kpi], {"partition_key": "2026-03-02"}),
    ]:
        result = dg.materialize(
            ASSETS, selection=dg.AssetSelection.assets(*selection), resources=resources, instance=instance, **kwargs
        )
        assert result.success


def _expected_rows(platform) -> int:
    return (
        len(platform.assessment["attempt"])
        + len(platform.moodle["logstore_standard_log"])
        + len(platform.moodle["question_attempts"])
    )


def test_spine_end_to_end_and_rerun_is_identical(warehouse_url, demo_sources, small_platform):
    resources = make_resources(warehouse_url, *demo_sources)
    wh = Warehouse(warehouse_url)
    with dg.DagsterInstance.ephemeral() as instance:
        _run_spine(resources, instance)
        snapshots = {t: _snapshot(wh, t) for t in ("events", "features_topic_daily", "weekly_kpi", "questions")}
        # every source row became an event (the demo has no bad rows)
        assert len(snapshots["events"]) == _expected_rows(small_platform)
        assert wh.count("rejected_events") == 0
        for _ in range(2):
            _run_spine(resources, instance)
        for table, before in snapshots.items():
            pd.testing.assert_frame_equal(_snapshot(wh, table), before, check_dtype=False)
        # run metadata and checks are recorded on the instance
        mat = instance.get_latest_materialization_event(dg.AssetKey("events"))
        assert mat is not None
        evaluations = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("events"), "events_keys_unique"), limit=1
        )
        assert evaluations and evaluations[0].status.value == "SUCCEEDED"
    kpis = wh.read("weekly_kpi")
    assert kpis.week_start.nunique() == 1 and kpis.kpis.map(lambda k: k["attempts"]).sum() > 0
    anchors = wh.read("questions", {"is_anchor": True})
    assert len(anchors) == SMALL_DEMO.anchors and anchors.ref_a.notna().all()
    wh.engine.dispose()


def _snapshot(wh: Warehouse, table: str) -> pd.DataFrame:
    frame = wh.read(table)
    drop = [c for c in ("computed_at", "updated_at") if c in frame.columns]
    keys = [c.name for c in wh.table(table).primary_key.columns]
    return frame.drop(columns=drop).sort_values(keys).reset_index(drop=True)


def test_malformed_source_rows_are_all_counted_in_rejected_events(sqlite_url, demo_sources):
    asmt_url, moodle_url = demo_sources
    day = dt.date(2026, 3, 4)
    bad_attempts = [
        {
            "id": 900001,
            "user_id": None,
            "question_id": 1,
            "correct": 1,
            "answered_at": "2026-03-04 10:00:00",
            "response_time_ms": 1,
        },
        {
            "id": 900002,
            "user_id": 1001,
            "question_id": 999999,
            "correct": 1,
            "answered_at": "2026-03-04 10:00:00",
            "response_time_ms": 1,
        },
        {
            "id": 900003,
            "user_id": 1001,
            "question_id": 1,
            "correct": 1,
            "answered_at": "2026-03-04 10:61:00",
            "response_time_ms": 1,
        },
        {
            "id": 900004,
            "user_id": 1001,
            "question_id": 1,
            "correct": 5,
            "answered_at": "2026-03-04 10:00:00",
            "response_time_ms": 1,
        },
        {
            "id": 900004,
            "user_id": 1001,
            "question_id": 1,
            "correct": 1,
            "answered_at": "2026-03-04 11:00:00",
            "response_time_ms": 1,
        },
    ]
    engine = sa.create_engine(asmt_url)
    with engine.begin() as conn:
        for row in bad_attempts:  # raw SQL so that SQLite keeps the malformed time text as is
            conn.execute(
                sa.text(
                    "INSERT INTO attempt VALUES (:id, :user_id, :question_id, :correct, :answered_at, :response_time_ms)"
                ),
                row,
            )
    resources = make_resources(sqlite_url, asmt_url, moodle_url)
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(ASSETS, selection=[questions], resources=resources, instance=instance).success
        result = dg.materialize(
            ASSETS, selection=[events], resources=resources, instance=instance, partition_key=day.isoformat()
        )
        assert result.success
        md = result.asset_materializations_for_node("events")[0].metadata
    wh = Warehouse(sqlite_url)
    rejected = wh.read("rejected_events", {"event_date": day})
    assert sorted(rejected.reason) == sorted(
        ["missing_user", "unknown_question", "unparseable_time", "invalid_correct", "duplicate_event_id"]
    )
    assert md["rejected"].value == 5
    assert md["reject_reasons"].value == {
        "duplicate_event_id": 1,
        "invalid_correct": 1,
        "missing_user": 1,
        "unknown_question": 1,
        "unparseable_time": 1,
    }
    assert not wh.read("events", {"event_id": ["asmt:900001", "asmt:900002", "asmt:900003"]}).shape[0]


def test_future_rows_of_today_are_rejected_not_loaded(sqlite_url, demo_sources):
    asmt_url, moodle_url = demo_sources
    today = dt.datetime.now(dt.UTC).date()
    later = dt.datetime.combine(today, dt.time(23, 59, 59))
    engine = sa.create_engine(asmt_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO attempt VALUES (777777, 1001, 1, 1, :t, 5)"), {"t": later})
    resources = make_resources(sqlite_url, asmt_url, moodle_url)
    with dg.DagsterInstance.ephemeral() as instance:
        dg.materialize(ASSETS, selection=[questions], resources=resources, instance=instance)
        # today is not a partition of events (days become partitions once they end): the intraday asset
        assert dg.materialize(ASSETS, selection=[intraday_events], resources=resources, instance=instance).success
    rejected = Warehouse(sqlite_url).read("rejected_events")
    assert list(rejected.reason) == ["future_time"]


def test_moodle_on_mariadb_through_the_real_readers(mysql_url, tmp_path, small_platform, sqlite_url):
    """Moodle lives on MariaDB (prefix ``mdl_``), filled by the generator; the readers ingest it."""
    from alt42_pipeline.demo.write import write_assessment, write_moodle

    asmt_url = f"sqlite:///{tmp_path / 'asmt.db'}"
    write_assessment(small_platform, sa.create_engine(asmt_url))
    write_moodle(small_platform, sa.create_engine(mysql_url))
    resources = make_resources(sqlite_url, asmt_url, mysql_url)
    with dg.DagsterInstance.ephemeral() as instance:
        for sel, kw in [([questions, user_last_access], {}), ([events], {"tags": RANGE})]:
            assert dg.materialize(ASSETS, selection=sel, resources=resources, instance=instance, **kw).success
    wh = Warehouse(sqlite_url)
    moodle_events = wh.read("events", {"source": "moodle"})
    expected = len(small_platform.moodle["logstore_standard_log"]) + len(small_platform.moodle["question_attempts"])
    assert len(moodle_events) == expected
    answers = moodle_events[moodle_events.verb == "answered"]
    steps = small_platform.moodle["question_attempt_steps"]
    assert answers.success.sum() == (steps.state == "gradedright").sum()
    assert wh.count("user_last_access") == len(small_platform.moodle["user_lastaccess"])


def test_prefixed_warehouse(tmp_path, demo_sources):
    url = f"sqlite:///{tmp_path / 'prefixed.db'}"
    resources = make_resources(url, *demo_sources)
    from alt42_pipeline.defs.resources import WarehouseResource

    resources["warehouse"] = WarehouseResource(url=url, table_prefix="mdl_alt42_")
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(ASSETS, selection=[questions], resources=resources, instance=instance).success
    assert "mdl_alt42_questions" in sa.inspect(sa.create_engine(url)).get_table_names()


def test_schedules_target_the_right_partitions():
    from alt42_pipeline.defs.spine import ingest_schedule, intraday_events_schedule

    at = dt.datetime(2026, 3, 4, 2, 10, tzinfo=dt.UTC)  # a Wednesday
    daily = ingest_schedule(dg.build_schedule_context(scheduled_execution_time=at))
    assert daily.partition_key == "2026-03-03"
    intraday = intraday_events_schedule(
        dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 4, 14, 35, tzinfo=dt.UTC))
    )
    assert intraday.partition_key is None and intraday.run_key == "intraday:2026-03-04T14:35:00+00:00"
