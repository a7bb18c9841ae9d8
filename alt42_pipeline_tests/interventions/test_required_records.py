"""Parsing and applying the required-records rule."""

from __future__ import annotations

import pandas as pd
import pytest

from alt42_pipeline.interventions.required_records import (
    VerbGroup,
    flag_column,
    has_required_records,
    parse_required_records,
)
from alt42_pipeline.settings import DEFAULT_REQUIRED_RECORDS


def test_the_default_is_one_attempt_and_one_other_activity():
    assert parse_required_records(DEFAULT_REQUIRED_RECORDS) == (
        VerbGroup("attempt", frozenset({"answered"})),
        VerbGroup("activity", frozenset({"answered"}), exclude=True),
    )


def test_groups_with_several_verbs_and_spaces():
    groups = parse_required_records(" attempt : answered ; study: viewed, submitted ;")
    assert groups == (
        VerbGroup("attempt", frozenset({"answered"})),
        VerbGroup("study", frozenset({"viewed", "submitted"})),
    )


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("answered", "is not 'name:verb,verb'"),
        ("a:", "is not 'name:verb,verb'"),
        ("a:!", "is not 'name:verb,verb'"),
        ("1x:answered", "is not 'name:verb,verb'"),
        ("a:answered;a:viewed", "appears twice"),
        (" ; ", "name no group"),
    ],
)
def test_bad_specs_are_rejected_with_the_group_named(spec, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_required_records(spec)


def test_students_need_every_group_flag():
    groups = parse_required_records(DEFAULT_REQUIRED_RECORDS)
    day = pd.DataFrame({"user_id": [3, 1, 2, 4], flag_column(0): [1, 1, 0, 1], flag_column(1): [1, 0, 1, 1]})
    assert has_required_records(day, groups).tolist() == [True, False, False, True]
    assert has_required_records(day.iloc[:0], groups).tolist() == []
