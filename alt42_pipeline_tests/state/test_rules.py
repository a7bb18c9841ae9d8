import textwrap

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.state.rules import DEFAULT_FILE, RuleFileError, load_rules, parse_rules

GOOD = """\
version: 3
rules:
  - id: struggling
    description: low accuracy
    when:
      - recent_accuracy < 0.5
      - recent_attempts >= 20
    at_risk: true
  - id: thriving
    when: ["recent_accuracy >= 0.85"]
    at_risk: false
"""


def test_the_packaged_rule_file_loads():
    rules = load_rules()
    assert rules.source == str(DEFAULT_FILE)
    assert "struggling" in rules.at_risk_ids and rules.version >= 1


def test_rules_fire_only_when_every_condition_holds_and_missing_values_never_do():
    rules = parse_rules(GOOD)
    metrics = pd.DataFrame(
        {
            "recent_accuracy": [0.4, 0.4, 0.9, np.nan],
            "recent_attempts": [20, 19, 30, 0],
        }
    )
    fired = rules.evaluate(metrics)
    assert fired["struggling"].tolist() == [True, False, False, False]
    assert fired["thriving"].tolist() == [False, False, True, False]
    assert rules.version == 3 and rules.at_risk_ids == ["struggling"]
    assert rules.rules[0].line == 3 and rules.rules[0].inputs == ("recent_accuracy", "recent_attempts")


def _error(text: str) -> str:
    with pytest.raises(RuleFileError) as info:
        parse_rules(textwrap.dedent(text), "scenarios.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    "broken,expected",
    [
        (
            GOOD.replace("recent_accuracy < 0.5", "recent_acuracy < 0.5"),
            "scenarios.yaml:6: rule 'struggling': unknown metric 'recent_acuracy'",
        ),
        (
            GOOD.replace("recent_attempts >= 20", "recent_attempts >= twenty"),
            "scenarios.yaml:7: rule 'struggling': 'twenty'",
        ),
        (
            GOOD.replace("recent_attempts >= 20", "recent_attempts => 20"),
            "scenarios.yaml:7: rule 'struggling': condition",
        ),
        (
            GOOD.replace("at_risk: false", "at_risk: maybe"),
            "scenarios.yaml:11: rule 'thriving': 'at_risk' must be true or false",
        ),
        (
            GOOD.replace("id: thriving", "id: struggling"),
            "scenarios.yaml:9: rule 'struggling': duplicate id (first defined on line 3)",
        ),
        (
            GOOD.replace("    description: low accuracy", "    descripton: low accuracy"),
            "scenarios.yaml:4: rule 'struggling': unknown key 'descripton'",
        ),
        (
            GOOD.replace('when: ["recent_accuracy >= 0.85"]', "when: []"),
            "scenarios.yaml:10: rule 'thriving': 'when' must be a non-empty list",
        ),
        (
            GOOD.replace("id: thriving", "id: Thriving!"),
            "scenarios.yaml:9: rule 'Thriving!': 'id' must be lower_snake_case",
        ),
        (GOOD.replace("version: 3", "version: three"), "scenarios.yaml:1: 'version' must be a positive integer"),
        (GOOD.replace("version: 3\n", ""), "missing 'version'"),
        (
            GOOD.replace("- id: struggling", "- ident: struggling"),
            "scenarios.yaml:3: rule #1: 'id' must be lower_snake_case",
        ),
        (GOOD.replace("rules:", "rulez:"), "scenarios.yaml:2: unknown top-level key 'rulez'"),
        ("version: 1\nrules:\n  - id: a\n    when: [x < 1\n", "scenarios.yaml:5: not valid YAML"),
        ("- just a list\n", "scenarios.yaml:1: the rule file must be a mapping"),
    ],
)
def test_invalid_rule_files_fail_naming_the_line_and_rule(broken, expected):
    assert expected in _error(broken)


def test_an_unreadable_rule_file_is_a_rule_file_error(tmp_path):
    with pytest.raises(RuleFileError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_a_rule_file_on_disk_reports_its_path(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("recent_attempts >= 20", "recent_attempts >= inf"))
    with pytest.raises(RuleFileError, match=r"rules.yaml:7: rule 'struggling': 'inf' .* not a finite number"):
        load_rules(path)
