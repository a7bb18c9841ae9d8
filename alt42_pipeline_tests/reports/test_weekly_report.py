"""The weekly report on a demo warehouse: the asset's page and metadata, and its parts."""

import base64
import datetime as dt
import re

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.calibration import health
from alt42_pipeline.calibration.pipeline import load_responses
from alt42_pipeline.defs.reports import weekly_report, weekly_report_schedule
from alt42_pipeline.reports import tables, weekly
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import make_resources

from .conftest import NOW, SHIFT, WEEK, shifted_anchor

SECTIONS = [
    "At-risk students",
    "Interventions this week",
    "KPI trends",
    "Students by state",
    "Inactivity alerts",
    "Abilities",
    "Item health",
    "Operations",
]
IN_THE_WEEK = dt.datetime(2026, 3, 4, 10, 0)


def add_states(wh: Warehouse, counts: dict[str, int], logged_at: dt.datetime | None = None) -> None:
    """Cached states; with ``logged_at``, also the changes that led to them at that time."""
    users = iter(range(1001, 2000))
    rows = [
        {"user_id": next(users), "state": state, "since": NOW, "recent_attempts": 0, "updated_at": NOW}
        for state, n in counts.items()
        for _ in range(n)
    ]
    wh.append("student_state_cache", pd.DataFrame(rows))
    if logged_at is not None:
        wh.append(
            "state_change_log",
            pd.DataFrame(
                [
                    {
                        "user_id": r["user_id"],
                        "from_state": None,
                        "to_state": r["state"],
                        "reason": "first seen",
                        "changed_at": logged_at,
                        "heartbeat_id": "hb",
                        "logged_at": logged_at,
                    }
                    for r in rows
                ]
            ),
        )


def test_asset_writes_a_self_contained_page_and_a_summary(report_warehouse, tmp_path, monkeypatch):
    add_states(report_warehouse, {"active": 5, "idle": 2}, logged_at=IN_THE_WEEK)
    monkeypatch.setenv("ALT42_REPORT_DIR", str(tmp_path / "reports"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [weekly_report],
            resources=make_resources(report_warehouse.url),
            partition_key=WEEK.isoformat(),
            instance=instance,
        )
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("weekly_report")[0].metadata.items()}
    path = tmp_path / "reports" / "weekly-report-2026-03-02.html"
    assert meta["path"] == str(path) and path.exists()
    page = path.read_text()

    # every plot inline as a PNG, nothing fetched from elsewhere
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(sources) == meta["plots"] >= 6
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http" not in page
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page

    # the numbers are the warehouse's
    kpis = report_warehouse.read("weekly_kpi", {"week_start": WEEK})
    assert meta["attempts"] == sum(k["attempts"] for k in kpis["kpis"]) > 0
    assert meta["active_students"] == len(kpis)
    assert meta["drifted_anchors"] == 1
    assert f"<td>{shifted_anchor(report_warehouse)}</td>" in page
    assert "linking constants slope=1.0213, intercept=0.0497" in page
    summary = meta["summary"]
    assert "### Students by state" in summary and re.search(r"\| active\s*\|\s*5 \|", summary)
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]


def test_a_warehouse_without_data_gives_a_report_that_says_so(sqlite_warehouse):
    report = weekly.gather(sqlite_warehouse, WEEK, NOW)
    page = weekly.render_html(report)
    assert "<img" not in page
    assert "No calibration yet." in page
    assert all(v in (0, "") for v in report.numbers().values())
    assert "_Platform KPIs per week_" in weekly.render_markdown(report)


def test_growth_is_scored_for_students_who_answered_in_both_weeks(report_warehouse):
    report = weekly.gather(report_warehouse, WEEK, NOW)
    before = load_responses(report_warehouse, WEEK - dt.timedelta(days=7), WEEK - dt.timedelta(days=1))
    during = load_responses(report_warehouse, WEEK, WEEK + dt.timedelta(days=6))
    both = set(before["user_id"]) & set(during["user_id"])
    assert set(report.growth["user_id"]) == both and len(both) > 10
    np.testing.assert_allclose(report.growth["growth"], report.growth["theta_after"] - report.growth["theta_before"])


def test_anchor_drift_finds_the_moved_anchor(report_warehouse):
    report = weekly.gather(report_warehouse, WEEK, NOW)
    drifted = report.drift[report.drift["drifted"]]
    assert list(drifted.index) == [shifted_anchor(report_warehouse)]
    assert drifted["delta_b"].iloc[0] == pytest.approx(SHIFT)


def test_misfit_flags_an_item_answered_against_the_model():
    rng = np.random.default_rng(3)
    theta = rng.normal(size=600)
    items = pd.DataFrame(
        {"a": [1.2, 0.8, 1.5, 1.0], "d": [0.0, 0.5, -0.5, 0.2]},
        index=pd.Index(["i1", "i2", "i3", "bad"], name="item_id"),
    )
    p = 1 / (1 + np.exp(-(np.outer(theta, items["a"]) + items["d"].to_numpy())))
    x = (rng.random(p.shape) < p).astype(int)
    x[:, 3] = 1 - x[:, 3]  # the able students fail it, the weak ones pass
    responses = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(600), 4),
            "item_id": np.tile(items.index, 600),
            "correct": x.ravel(),
        }
    )
    abilities = pd.DataFrame({"user_id": np.arange(600), "theta": theta})
    fit = health.item_misfit(responses, items, abilities)
    assert list(fit.index[fit["misfit"]]) == ["bad"]
    assert fit.loc[["i1", "i2", "i3"], "infit"].between(0.8, 1.2).all()
    few = health.item_misfit(responses[responses["user_id"] < health.MISFIT_MIN_RESPONSES - 1], items, abilities)
    assert not few["misfit"].any()


def test_heartbeat_summary_counts_failures_and_error_lists():
    beats = pd.DataFrame(
        {
            "success": [True, False, None],
            "students_processed": [10, 0, 5],
            "errors": [0, ["db down", "timeout"], None],
            "duration_ms": [100, 50, None],
        }
    )
    row = tables.heartbeat_summary(beats).iloc[0]
    assert (row["runs"], row["failed"], row["students_processed"], row["errors"]) == (3, 1, 15, 2)


def test_schedule_requests_the_week_that_just_ended():
    monday = dt.datetime(2026, 3, 9, 4, 0, tzinfo=dt.UTC)
    request = weekly_report_schedule(dg.build_schedule_context(scheduled_execution_time=monday))
    assert request.partition_key == "2026-03-02"
    assert weekly_report_schedule.cron_schedule == "0 4 * * 1" and weekly_report_schedule.execution_timezone == "UTC"


def test_postgresql_warehouse_gives_the_same_report(report_warehouse, pg_url):
    wh = Warehouse(pg_url)
    wh.migrate()
    try:
        for table in ("questions", "events", "weekly_kpi", "mirt_item_params", "mirt_fit_meta", "mirt_ability"):
            wh.append(table, report_warehouse.read(table).drop(columns=["id"], errors="ignore"))
        add_states(wh, {"active": 4, "idle": 1}, logged_at=IN_THE_WEEK)
        add_states(report_warehouse, {"active": 4, "idle": 1}, logged_at=IN_THE_WEEK)
        on_pg, on_sqlite = weekly.gather(wh, WEEK, NOW), weekly.gather(report_warehouse, WEEK, NOW)
        assert on_pg.numbers() == on_sqlite.numbers()
        pd.testing.assert_frame_equal(on_pg.kpi_trend, on_sqlite.kpi_trend, check_dtype=False)
        pd.testing.assert_frame_equal(on_pg.states, on_sqlite.states)
        assert on_pg.calibration["model_spec"] == on_sqlite.calibration["model_spec"]
        assert "linking constants slope=1.0213, intercept=0.0497, anchor_count=20" in weekly.render_markdown(on_pg)
    finally:
        wh.engine.dispose()


def test_the_report_survives_the_pod_in_the_warehouse(report_warehouse, tmp_path, monkeypatch):
    """As on Kubernetes: no report files (the pod's /tmp vanishes); the page is in the
    warehouse and the metadata points at its row."""
    monkeypatch.setenv("ALT42_REPORT_DIR", str(tmp_path / "pod-tmp" / "reports"))
    monkeypatch.setenv("ALT42_REPORT_FILES", "false")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [weekly_report],
            resources=make_resources(report_warehouse.url),
            partition_key=WEEK.isoformat(),
            instance=instance,
        )
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("weekly_report")[0].metadata.items()}
    assert not (tmp_path / "pod-tmp").exists() and "path" not in meta
    assert meta["report_table"] == "weekly_reports" and meta["report_week"] == WEEK.isoformat()
    stored = report_warehouse.read("weekly_reports", {"week_start": WEEK})
    assert len(stored) == 1 and stored["html"][0].startswith("<!DOCTYPE html>") and "<img" in stored["html"][0]
    assert stored["size_bytes"][0] == len(stored["html"][0].encode()) and stored["numbers"][0]["attempts"] > 0
    assert "### Students by state" in stored["summary_md"][0]
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]
    # a re-run replaces the week's row
    with dg.DagsterInstance.ephemeral() as instance:
        dg.materialize(
            [weekly_report],
            resources=make_resources(report_warehouse.url),
            partition_key=WEEK.isoformat(),
            instance=instance,
        )
    assert report_warehouse.count("weekly_reports") == 1


def test_a_big_report_fits_on_mariadb(mysql_url):
    wh = Warehouse(mysql_url)
    wh.migrate()
    report = weekly.gather(wh, WEEK, NOW)
    page = "<!DOCTYPE html>" + "x" * 300_000
    assert weekly.store_week(wh, report, page, "r") == len(page)
    wh.engine.dispose()
