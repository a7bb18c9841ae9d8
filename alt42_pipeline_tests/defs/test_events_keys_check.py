"""Finding 6: events_keys_unique checks the stored rows of any range, not only up to 7 days
(a longer range used to pass with "checked_by: primary key" and nothing counted)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from alt42_pipeline.defs.spine import events, questions
from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.warehouse import Warehouse, make_engine
from alt42_pipeline_tests.conftest import make_resources

NINE_DAYS = DemoConfig(students=30, days=9, end_date=dt.date(2026, 3, 9), seed=3)


def test_a_nine_day_range_is_counted_row_by_row(tmp_path, instance):
    platform = generate(NINE_DAYS)
    asmt, mdl, url = (f"sqlite:///{tmp_path / n}" for n in ("a.db", "m.db", "wh.db"))
    write_assessment(platform, make_engine(asmt))
    write_moodle(platform, make_engine(mdl))
    resources = make_resources(url, asmt, mdl)
    assert dg.materialize([questions, events], selection=[questions], resources=resources, instance=instance).success
    tags = {
        "dagster/asset_partition_range_start": NINE_DAYS.first_day.isoformat(),
        "dagster/asset_partition_range_end": NINE_DAYS.last_day.isoformat(),
    }
    result = dg.materialize([questions, events], selection=[events], resources=resources, instance=instance, tags=tags)
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "events_keys_unique")
    stored = Warehouse(url).count("events")
    assert stored > 0
    assert check.passed
    assert check.metadata["rows"].value == stored
    assert check.metadata["duplicate_keys"].value == 0 and check.metadata["null_keys"].value == 0


def test_the_count_finds_duplicates_and_nulls(sqlite_warehouse):
    """The database-side count the check uses finds what it is there to find."""
    wh = sqlite_warehouse
    wh.append(
        "questions",
        pd.DataFrame(
            {
                "question_id": ["q1", "q2", "q3", "q4"],
                "topic_id": ["t1", "t1", None, "t2"],
                "source": "assessment",
                "is_anchor": False,
                "updated_at": dt.datetime(2026, 3, 1),
            }
        ),
    )
    found = wh.key_violations("questions", ["topic_id"])
    assert (found.rows, found.null_keys, found.duplicate_keys) == (4, 1, 1)
    assert wh.key_violations("questions", ["question_id"], {"topic_id": ["t1"]}).rows == 2
