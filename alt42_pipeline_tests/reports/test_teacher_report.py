"""The part of the weekly report a teacher acts on: at-risk students per course with names,
last activity, risk, reasons and this week's intervention; states as of the week; the
partial current week; operators' telemetry after the teachers' part."""

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa

from alt42_pipeline.reports import weekly
from alt42_pipeline.reports.names import moodle_names

from .conftest import NOW, WEEK
from .test_weekly_report import IN_THE_WEEK, add_states

NAMES = pd.DataFrame({"user_id": [1001], "firstname": ["Ada"], "lastname": ["Lovelace"]})


def _risk(wh, rows, day=dt.date(2026, 3, 6)):
    wh.append(
        "student_risk",
        pd.DataFrame(
            [
                {
                    "user_id": u,
                    "date": day,
                    "probability": p,
                    "at_risk": p >= 0.3,
                    "reasons": [{"feature": "active_days_7", "text": "active days in the last week", "value": 1}],
                    "model_version": 1,
                    "computed_at": NOW,
                }
                for u, p in rows
            ]
        ),
    )


def _students(wh) -> list[int]:
    return sorted(int(u) for u in wh.read("events", columns=["user_id"])["user_id"].unique())[:3]


def test_at_risk_students_per_course_with_names_reasons_and_the_weeks_intervention(report_warehouse, caplog):
    wh = report_warehouse
    a, b, c = _students(wh)
    names = NAMES.assign(user_id=[a])
    _risk(wh, [(a, 0.81), (b, 0.42), (c, 0.05)])
    wh.append(
        "interventions",
        pd.DataFrame(
            [
                {
                    "user_id": a,
                    "date": dt.date(2026, 3, 5),
                    "recommendation": "call_student",
                    "message": "m",
                    "priority": 1,
                    "recommender": "builtin",
                    "recommender_version": "1",
                    "created_at": NOW,
                }
            ]
        ),
    )
    with caplog.at_level(logging.DEBUG):
        report = weekly.gather(wh, WEEK, NOW, names)
        page = weekly.render_html(report, {})
    listed = report.at_risk
    assert set(listed["student"]) == {"Ada Lovelace", f"student #{b}"}  # c is below the threshold
    first = listed[listed["student"] == "Ada Lovelace"].iloc[0]
    assert first["risk"] == "81%" and first["intervention this week"] == "call_student"
    assert "active days in the last week (1)" in first["top reasons"]
    assert first["last activity"] <= "2026-03-08" and first["course"]
    assert "Ada Lovelace" in page and "Lovelace" not in caplog.text  # names in the page, never in logs
    assert report.numbers()["at_risk_students"] == 2
    assert report.interventions.iloc[0].to_dict() == {
        "recommendation": "call_student",
        "students": 1,
        "interventions": 1,
    }


def test_states_are_those_at_the_end_of_the_week_not_todays(report_warehouse):
    wh = report_warehouse
    add_states(wh, {"active": 3}, logged_at=IN_THE_WEEK)
    later = pd.DataFrame(
        [
            {
                "user_id": 1001,
                "from_state": "active",
                "to_state": "idle",
                "reason": "no activity for 7 days",
                "changed_at": dt.datetime(2026, 3, 10),
                "heartbeat_id": "hb2",
                "logged_at": dt.datetime(2026, 3, 10),
            }
        ]
    )
    wh.append("state_change_log", later)
    report = weekly.gather(wh, WEEK, NOW)
    assert report.states.set_index("state")["students"].to_dict() == {"active": 3}


def test_the_unfinished_current_week_is_flagged_partial(report_warehouse):
    report = weekly.gather(report_warehouse, WEEK + dt.timedelta(days=7), NOW)  # NOW is Thursday of that week
    page = weekly.render_html(report, {})
    assert report.partial and "(partial: the week is not over)" in report.title
    assert "Partial week: data up to 2026-03-12 04:00 UTC" in page
    assert not weekly.gather(report_warehouse, WEEK, NOW).partial


def test_kpis_are_percentages_and_operations_come_after_the_teachers_part(report_warehouse):
    report = weekly.gather(report_warehouse, WEEK, NOW)
    table = weekly.kpi_table(report.kpi_trend)
    assert table["accuracy"].str.fullmatch(r"\d{1,3}%").all()
    page = weekly.render_html(report, {})
    at_risk, operators = page.index("<h2>At-risk students</h2>"), page.index("For operators")
    assert at_risk < page.index("<h2>KPI trends</h2>") < operators < page.index("<h2>Item health</h2>")
    assert operators < page.index("<h2>Operations</h2>") and '<meta name="viewport"' in page
    assert "No drop-out risk model yet" in page


def test_names_come_from_moodles_user_table_without_deleted_users(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE mdl_user (id INTEGER, firstname TEXT, lastname TEXT, deleted INTEGER)")
        conn.exec_driver_sql("INSERT INTO mdl_user VALUES (7, 'Ada', 'Lovelace', 0), (8, 'Gone', 'User', 1)")
    names = moodle_names(engine, "mdl_")
    assert names.to_dict("records") == [{"user_id": 7, "firstname": "Ada", "lastname": "Lovelace"}]
    assert moodle_names(engine, "other_").empty and moodle_names(None).empty
    engine.dispose()
