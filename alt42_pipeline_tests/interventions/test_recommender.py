"""The built-in rule recommender (pure, deterministic)."""

from __future__ import annotations

import pytest

from alt42_pipeline.interventions.recommender import Recommendation, RuleRecommender
from alt42_pipeline.state.machine import AT_RISK, STATES


def student(attempts=10, correct=7, seconds=1800.0, state=None, weak=(), theta=None, kpis=None) -> dict:
    return {
        "user_id": 1,
        "date": "2026-11-21",
        "today": {
            "attempts": attempts,
            "correct": correct,
            "accuracy": correct / attempts if attempts else None,
            "activity_events": 2,
            "time_on_task_s": seconds,
        },
        "state": None
        if state is None
        else {"state": state, "recent_accuracy": 0.35, "recent_attempts": 40, "active_scenarios": []},
        "kpis": kpis,
        "weak_topics": list(weak),
        "ability": None if theta is None else {"theta": theta, "se": 0.3},
    }


FRACTIONS = {"topic_id": "fractions", "attempts": 8, "accuracy": 0.25}


@pytest.mark.parametrize(
    "inputs, code, priority",
    [
        (student(state="at_risk", weak=[FRACTIONS]), "tutor_check_in", 1),  # the state comes first
        (student(correct=3, weak=[FRACTIONS]), "review_weak_topic", 1),  # weak topic and a bad day
        (student(correct=8, weak=[FRACTIONS]), "review_weak_topic", 2),
        (student(correct=5), "revisit_basics", 2),
        (student(attempts=3, correct=3, seconds=300.0, kpis={"active_days": 2}), "practice_more", 2),
        (student(correct=9, theta=0.8), "increase_challenge", 3),
        (student(correct=9, theta=-1.0), "keep_going", 3),  # accurate today, but a low ability
        (student(correct=7), "keep_going", 3),
    ],
)
def test_the_first_matching_rule_decides(inputs, code, priority):
    rec = RuleRecommender().recommend(inputs)
    assert (rec.code, rec.priority) == (code, priority)


def test_messages_name_what_the_rule_saw():
    assert "fractions" in RuleRecommender().recommend(student(weak=[FRACTIONS])).message
    assert (
        "2 active days"
        in RuleRecommender().recommend(student(attempts=2, correct=1, seconds=100.0, kpis={"active_days": 2})).message
    )
    assert "35%" in RuleRecommender().recommend(student(state=AT_RISK)).message


@pytest.mark.parametrize("state", [s for s in STATES if s != AT_RISK] + ["struggling", "frustrated"])
def test_only_the_machines_at_risk_state_calls_for_a_tutor(state):
    """The other states, and names the state machine does not have, do not."""
    assert RuleRecommender().recommend(student(state=state)).code != "tutor_check_in"


def test_recommend_many_is_deterministic_and_isolates_a_bad_student():
    broken = {"user_id": 2}  # no "today": cannot be judged
    results = RuleRecommender().recommend_many([student(), broken, student()])
    assert results[0] == results[2] == Recommendation("keep_going", "10 attempts today: keep the rhythm going.", 3)
    assert isinstance(results[1], KeyError)
