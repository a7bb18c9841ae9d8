"""The intervention batch on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from alt42_pipeline.interventions.batch import run_batch
from alt42_pipeline.interventions.recommender import Recommendation, RuleRecommender
from alt42_pipeline.interventions.required_records import parse_required_records
from alt42_pipeline.settings import DEFAULT_REQUIRED_RECORDS

from .builders import day_of_study, event, write_events, write_state, write_topic_day

DAY = dt.date(2026, 11, 21)
DEFAULT = parse_required_records(DEFAULT_REQUIRED_RECORDS)


def _students(wh):
    rows = day_of_study(1, DAY, [True, False, True])  # attempt + activity
    rows += day_of_study(2, DAY, [True], others=())  # attempts only
    rows += [event(3, DAY, "viewed"), event(3, DAY, "logged_in")]  # activity only
    rows += day_of_study(5, DAY, [True], others=("submitted",))
    rows += day_of_study(6, DAY - dt.timedelta(days=1), [True])  # active the day before only
    write_events(wh, rows)
    write_state(wh, 4, "idle")  # known student with no events


def test_only_students_with_every_required_record_are_processed(warehouse):
    _students(warehouse)
    report = run_batch(warehouse, DAY, RuleRecommender(), DEFAULT, run_id="r1")
    assert report.counts == {
        "students": 5,
        "processed": 2,
        "skipped_missing_records": 3,
        "skipped_duplicate": 0,
        "failed": 0,
    }
    stored = warehouse.read("interventions").sort_values("user_id")
    assert stored["user_id"].tolist() == [1, 5]
    assert set(stored["run_id"]) == {"r1"} and set(stored["recommender"]) == {"builtin-rules"}
    assert stored.iloc[0]["details"]["today"] == {
        "attempts": 3,
        "correct": 2,
        "accuracy": 0.6667,
        "activity_events": 1,
        "time_on_task_s": 120.0,
    }


def test_the_required_records_rule_is_configurable(warehouse):
    _students(warehouse)
    attempts_only = parse_required_records("attempt:answered")
    report = run_batch(warehouse, DAY, RuleRecommender(), attempts_only)
    assert sorted(warehouse.read("interventions")["user_id"]) == [1, 2, 5]
    assert report.skipped_missing_records == 2
    # an exclusion group: any activity other than logging in
    write_events(warehouse, day_of_study(8, DAY, [True], others=("logged_in",)))
    not_login = parse_required_records("attempt:answered;study:!answered,logged_in")
    report = run_batch(warehouse, DAY, RuleRecommender(), not_login)
    # 8 only logged in and 2 only answered; 1 and 5 qualify but were done above
    assert (report.processed, report.skipped_missing_records, report.skipped_duplicate) == (0, 4, 2)


def test_a_rerun_skips_students_that_already_have_an_intervention(warehouse):
    _students(warehouse)
    run_batch(warehouse, DAY, RuleRecommender(), DEFAULT, run_id="r1")
    write_events(warehouse, day_of_study(7, DAY, [False]))  # a late arrival
    again = run_batch(warehouse, DAY, RuleRecommender(), DEFAULT, run_id="r2")
    assert (again.processed, again.skipped_duplicate) == (1, 2)
    stored = warehouse.read("interventions")
    assert len(stored) == 3
    assert dict(zip(stored["user_id"], stored["run_id"])) == {1: "r1", 5: "r1", 7: "r2"}


class FailsFor:
    """The rule recommender, except that some students raise."""

    name, version = "flaky", "0"

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad

    def recommend_many(self, students):
        return [
            ValueError(f"no rule for student {s['user_id']}")
            if s["user_id"] in self.bad
            else Recommendation("keep_going", "ok", 3)
            for s in students
        ]


def test_one_failing_student_is_recorded_and_the_others_are_processed(warehouse):
    _students(warehouse)
    report = run_batch(warehouse, DAY, FailsFor({1}), DEFAULT, run_id="r1")
    assert (report.processed, report.failed) == (1, 1)
    errors = warehouse.read("intervention_errors")
    assert errors[["user_id", "error_type", "message", "run_id"]].to_dict("records") == [
        {"user_id": 1, "error_type": "ValueError", "message": "no rule for student 1", "run_id": "r1"}
    ]
    assert errors["date"].tolist() == [DAY]
    assert warehouse.read("interventions")["user_id"].tolist() == [5]
    # the failed student has no intervention, so the next run tries it again
    retry = run_batch(warehouse, DAY, RuleRecommender(), DEFAULT, run_id="r2")
    assert (retry.processed, retry.skipped_duplicate, retry.failed) == (1, 1, 0)


class BrokenChunks:
    """A recommender whose whole call fails when the chunk holds student 1."""

    name, version = "broken", "0"

    def recommend_many(self, students):
        if any(s["user_id"] == 1 for s in students):
            raise ConnectionError("recommender unreachable")
        return [Recommendation("keep_going", "ok", 3) for _ in students]


def test_a_failing_call_fails_only_its_own_chunk(warehouse):
    _students(warehouse)
    report = run_batch(warehouse, DAY, BrokenChunks(), DEFAULT, chunk=1)
    assert (report.processed, report.failed) == (1, 1)
    errors = warehouse.read("intervention_errors")
    assert errors[["user_id", "error_type"]].to_dict("records") == [{"user_id": 1, "error_type": "ConnectionError"}]


def test_the_recommender_sees_state_kpis_weak_topics_and_ability(warehouse):
    write_events(warehouse, day_of_study(1, DAY, [False] * 6))
    write_state(
        warehouse, 1, "active", recent_accuracy=0.4, theta=-0.3, theta_se=0.5, active_scenarios=["low_accuracy"]
    )
    warehouse.append(
        "weekly_kpi",
        pd.DataFrame(
            [
                {
                    "user_id": 1,
                    "week_start": dt.date(2026, 11, 16),
                    "kpis": {"active_days": 3},
                    "updated_at": dt.datetime(2026, 11, 21),
                }
            ]
        ),
    )
    write_topic_day(warehouse, 1, "fractions", DAY - dt.timedelta(days=3), attempts=6, correct=1)
    write_topic_day(warehouse, 1, "algebra", DAY, attempts=5, correct=2)
    write_topic_day(warehouse, 1, "geometry", DAY, attempts=5, correct=5)  # not weak
    write_topic_day(warehouse, 1, "old", DAY - dt.timedelta(days=20), attempts=9, correct=0)  # outside the window

    run_batch(warehouse, DAY, RuleRecommender(), DEFAULT)
    [row] = warehouse.read("interventions").to_dict("records")
    details = row["details"]
    assert details["kpis"] == {"active_days": 3}
    assert details["state"] == {
        "state": "active",
        "recent_accuracy": 0.4,
        "recent_attempts": 0,
        "active_scenarios": ["low_accuracy"],
    }
    assert details["ability"] == {"theta": -0.3, "se": 0.5}  # from the state until IRT calibrates
    assert [t["topic_id"] for t in details["weak_topics"]] == ["fractions", "algebra"]
    assert (row["recommendation"], row["priority"]) == ("review_weak_topic", 1)
    assert "fractions" in row["message"]


def test_calibrated_ability_wins_over_the_state_estimate(warehouse):
    write_events(warehouse, day_of_study(1, DAY, [True]))
    write_state(warehouse, 1, "active", theta=-0.3)
    warehouse.append(
        "mirt_ability",
        pd.DataFrame(
            [{"user_id": 1, "theta": 1.2, "se": 0.2, "method": "eap", "fitted_at": dt.datetime(2026, 11, 20)}]
        ),
    )
    run_batch(warehouse, DAY, RuleRecommender(), DEFAULT)
    assert warehouse.read("interventions")["details"][0]["ability"] == {"theta": 1.2, "se": 0.2}


def test_an_empty_day_writes_nothing(warehouse):
    report = run_batch(warehouse, DAY, RuleRecommender(), DEFAULT)
    assert report.counts == {
        "students": 0,
        "processed": 0,
        "skipped_missing_records": 0,
        "skipped_duplicate": 0,
        "failed": 0,
    }
    assert warehouse.count("interventions") == 0
