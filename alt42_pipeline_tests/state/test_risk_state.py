"""at_risk by the calibrated drop-out probability: the model decides for scored students,
override rules still force at_risk, and unscored students fall back to the rules."""

import datetime as dt

import pandas as pd

from alt42_pipeline.state.heartbeat import run_heartbeat
from alt42_pipeline.state.rules import load_rules, parse_rules

from .factories import NOW, add_events, answers, event

RULES = load_rules()


def _scores(wh, rows):
    wh.append(
        "student_risk",
        pd.DataFrame(
            [
                {
                    "user_id": u,
                    "date": NOW.date() - dt.timedelta(days=1),
                    "probability": p,
                    "at_risk": flag,
                    "reasons": [],
                    "model_version": 1,
                    "computed_at": NOW,
                }
                for u, p, flag in rows
            ]
        ),
    )


def _struggling(user_id):
    return answers(user_id, NOW - dt.timedelta(hours=2), correct=5, wrong=20)  # the 'struggling' rule fires


def _states(wh):
    return wh.read("student_state_cache").set_index("user_id")


def test_the_model_decides_for_scored_students_and_the_rules_explain(sqlite_warehouse):
    wh = sqlite_warehouse
    add_events(wh, _struggling(1) + _struggling(2) + [event(3, NOW - dt.timedelta(hours=3))] + _struggling(4))
    _scores(wh, [(1, 0.10, False), (2, 0.80, True), (3, 0.70, True)])  # 4 has no score
    run_heartbeat(wh, RULES, now=NOW)
    states = _states(wh)
    assert states.loc[1, "state"] == "active"  # the rule fires, the model says no: the model decides
    assert "struggling" in states.loc[1, "active_scenarios"]  # ... and the firing is still kept
    assert states.loc[2, "state"] == "at_risk"
    assert states.loc[3, "state"] == "at_risk"  # no rule fires: the model alone
    assert states.loc[4, "state"] == "at_risk"  # not scored: the rules decide
    reasons = wh.read("state_change_log").set_index("user_id")["reason"]
    assert "drop-out risk 80% at or above the alert threshold; scenarios: struggling" in reasons.loc[2]
    assert "at-risk scenarios fired: struggling" in reasons.loc[4]


def test_an_override_rule_puts_a_student_in_at_risk_whatever_the_score(sqlite_warehouse):
    wh = sqlite_warehouse
    text = (
        "version: 2\nrules:\n  - id: struggling\n    when: [recent_accuracy < 0.5, recent_attempts >= 20]\n"
        "    at_risk: true\n    override: true\n"
    )
    add_events(wh, _struggling(1))
    _scores(wh, [(1, 0.05, False)])
    run_heartbeat(wh, parse_rules(text), now=NOW)
    assert _states(wh).loc[1, "state"] == "at_risk"


def test_stale_scores_are_not_used(sqlite_warehouse):
    wh = sqlite_warehouse
    add_events(wh, [event(3, NOW - dt.timedelta(hours=3))])
    _scores(wh, [(3, 0.9, True)])
    no_risk_rules = parse_rules(
        "version: 1\nrules:\n  - id: busy\n    when: [recent_events > 100]\n    at_risk: false\n"
    )
    run_heartbeat(wh, no_risk_rules, now=NOW)
    assert _states(wh).loc[3, "state"] == "at_risk"  # yesterday's score counts
    run_heartbeat(wh, no_risk_rules, now=NOW + dt.timedelta(days=3))  # the score is 4 days old by then
    assert _states(wh).loc[3, "state"] == "active"


def test_override_must_be_true_or_false():
    import pytest

    from alt42_pipeline.state.rules import RuleFileError

    text = "version: 1\nrules:\n  - id: r\n    when: [recent_events > 1]\n    at_risk: true\n    override: maybe\n"
    with pytest.raises(RuleFileError, match=r"<rules>:6: rule 'r': 'override' must be true or false"):
        parse_rules(text)
    assert parse_rules(text.replace("maybe", "true")).override_ids == ["r"]
    assert load_rules().override_ids == []  # the shipped rules explain; none overrides the model
