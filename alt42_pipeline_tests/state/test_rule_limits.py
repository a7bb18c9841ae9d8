"""Rule files at their limits: many rules, bad bytes, newlines in ids, huge values."""

from __future__ import annotations

import pytest

from alt42_pipeline.interventions import Schedule, ScheduleError
from alt42_pipeline.interventions.schedules import validate
from alt42_pipeline.state.heartbeat import run_heartbeat
from alt42_pipeline.state.rules import RuleFileError, load_rules, parse_rules

from .factories import NOW, add_events, answers
from .test_heartbeat import H


def many_rules(n: int) -> str:
    """``n`` rules; rule ``r<i>`` fires for a student with at least ``i`` recent attempts."""
    rules = "".join(f"  - id: r{i}\n    when: ['recent_attempts >= {i}']\n    at_risk: false\n" for i in range(n))
    return f"version: 1\nrules:\n{rules}"


def test_a_file_with_70_rules_works_for_every_heartbeat(warehouse, tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(many_rules(70))
    rules = load_rules(path)
    add_events(warehouse, answers(1, NOW - H, correct=50, wrong=19) + answers(2, NOW - H, correct=3, wrong=0))
    first = run_heartbeat(warehouse, rules, now=NOW)
    assert first.success
    cache = warehouse.read("student_state_cache").set_index("user_id")
    assert cache.loc[1, "active_scenarios"] == [f"r{i}" for i in range(70)]  # 69 attempts: r0..r69
    assert cache.loc[2, "active_scenarios"] == ["r0", "r1", "r2", "r3"]
    # the second heartbeat reads the first one's scenarios back (where 64 bits overflowed)
    add_events(warehouse, answers(2, NOW + H, correct=66, wrong=0))
    second = run_heartbeat(warehouse, rules, now=NOW + 2 * H)
    assert second.success and second.errors == 0
    cache = warehouse.read("student_state_cache").set_index("user_id")
    assert cache.loc[2, "active_scenarios"] == [f"r{i}" for i in range(70)]
    fired = warehouse.read("scenario_evaluation_log")
    assert sorted(fired.loc[fired["user_id"] == 2, "scenario"]) == sorted(f"r{i}" for i in range(70))
    assert len(fired) == 140  # each onset once: nothing fired again for student 1
    third = run_heartbeat(warehouse, rules, now=NOW + 3 * H)
    assert third.success and third.scenarios_fired == 0 and third.state_changes == 0


def test_invalid_utf8_names_the_file(tmp_path):
    path = tmp_path / "rules-latin1.yaml"
    path.write_bytes("version: 1\nrules:\n  - id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RuleFileError) as info:
        load_rules(path)
    message = str(info.value)
    assert str(path) in message and "UTF-8" in message and "line 3" in message


@pytest.mark.parametrize("rule_id", ["struggling\n", "strug\ngling", "struggling\r"])
def test_a_rule_id_with_a_newline_is_refused(rule_id):
    text = f'version: 1\nrules:\n  - id: "{rule_id.encode("unicode_escape").decode()}"\n    when: ["theta < 0"]\n    at_risk: true\n'
    with pytest.raises(RuleFileError, match="lower_snake_case"):
        parse_rules(text, "s.yaml")


def test_error_messages_never_echo_a_huge_value():
    huge = "x" * 10_000
    cases = [
        f"version: 1\nrules:\n  - id: {huge}\n    when: ['theta < 0']\n    at_risk: true\n",
        f"version: 1\nrules:\n  - id: a\n    when: ['{huge} < 0']\n    at_risk: true\n",
        f"version: 1\nrules:\n  - id: a\n    when: ['theta < {huge}']\n    at_risk: true\n",
        f"version: 1\nrules:\n  - id: a\n    when: ['theta <']\n    {huge}: 1\n    at_risk: true\n",
        f"version: 1\nrules:\n  - id: a\n    when: ['{huge}']\n    at_risk: true\n",
    ]
    for text in cases:
        with pytest.raises(RuleFileError) as info:
            parse_rules(text, "s.yaml")
        assert len(str(info.value)) < 400, str(info.value)[:200]


@pytest.mark.parametrize("name", ["nightly\n", "night\nly", "tab\there", "nul\x00"])
def test_a_schedule_name_with_a_control_character_is_refused(name):
    with pytest.raises(ScheduleError, match="control character"):
        validate(Schedule(name=name, frequency="daily", hour=6, minute=0))


def test_a_huge_schedule_name_is_not_echoed():
    with pytest.raises(ScheduleError) as info:
        validate(Schedule(name="n" * 10_000, frequency="hourly", hour=99, minute=0, timezone="z" * 10_000))
    assert len(str(info.value)) < 500
