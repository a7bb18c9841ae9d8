"""The operator's status screen against a demo warehouse and a Dagster instance."""

import dataclasses
import datetime as dt

import dagster as dg
import pandas as pd

from alt42_pipeline import cli
from alt42_pipeline.reports import status, tables

from .conftest import NOW
from .test_weekly_report import add_states


@dg.asset
def broken_asset():
    raise RuntimeError("boom")


def test_status_answers_the_health_check_questions(report_warehouse):
    wh = report_warehouse
    add_states(wh, {"active": 5, "at_risk": 3})
    rejected = pd.DataFrame(
        {
            "event_date": [NOW.date()] * 3,
            "source": "assessment",
            "reason": ["bad_time", "bad_time", "no_user"],
            "rejected_at": [NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=2), NOW - dt.timedelta(days=30)],
        }
    )
    wh.append("rejected_events", rejected)
    with dg.DagsterInstance.ephemeral() as instance:
        assert not dg.materialize([broken_asset], instance=instance, raise_on_error=False).success
        s = status.gather(wh, NOW, cli.failed_runs(instance, NOW - dt.timedelta(days=7)))
    text = status.format_status(s)

    assert (
        "Last calibration: cal-1 (builtin)" in text
        and "linking constants: slope=1.0213, intercept=0.0497, anchor_count=20" in text
    )
    items, anchors = wh.count("mirt_item_params"), wh.count("questions", {"is_anchor": True})
    assert f"fitted in the last 24 h: {items} items, 60 users; anchors in the catalogue: {anchors}" in text
    assert "Students per state: active 5, at_risk 3" in text
    assert "quarantined source rows: 2 (bad_time 2)" in text  # the 30-day-old one is outside the window
    assert len(s.failed_runs) == 1 and "__ephemeral_asset_job__" in text
    events = s.tables.set_index("table").loc["events"]
    assert events["rows"] == wh.count("events") and events["column"] == "occurred_at"
    assert events["latest"] == wh.read("events")["occurred_at"].max()


def test_cli_prints_the_screen_for_the_configured_warehouse(sqlite_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ALT42_WAREHOUSE_URL", sqlite_url)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # no demo instance (.dagster_home) here either
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ALT42 status at ")
    assert "Last calibration: none yet" in out
    assert "failed runs: Dagster instance not consulted" in out
    assert "weekly_kpi" in out


def test_heartbeat_lines_once_the_state_domain_writes_its_log(sqlite_warehouse):
    # the heartbeat table comes with the state domain; its rows reach the screen like this
    beats = pd.DataFrame(
        {
            "at": [NOW - dt.timedelta(minutes=40), NOW - dt.timedelta(minutes=10)],
            "success": [True, False],
            "students_processed": [120, 0],
            "errors": [0, ["database connection failed"]],
            "duration_ms": [850, 12],
        }
    )
    s = status.gather(sqlite_warehouse, NOW)
    s = dataclasses.replace(s, heartbeat=beats.iloc[-1].to_dict(), heartbeats_last_day=tables.heartbeat_summary(beats))
    text = status.format_status(s)
    assert "Last heartbeat: 2026-03-12 03:50 UTC (10m ago) FAILED, 0 students" in text
    assert "last 24 h: 2 runs, 1 failed, 1 errors" in text
