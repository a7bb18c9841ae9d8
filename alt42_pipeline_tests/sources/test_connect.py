"""Finding 7: a SQLite source path that does not exist is an error naming the setting, not
a new empty database that ingests nothing."""

from __future__ import annotations

import dagster as dg
import pytest

from alt42_pipeline.defs.spine import questions
from alt42_pipeline.sources import SourceError, Sources
from alt42_pipeline_tests.conftest import make_resources


def test_a_missing_sqlite_source_is_refused_and_not_created(tmp_path):
    missing = tmp_path / "assesment.db"  # misspelt
    with pytest.raises(SourceError, match="ALT42_ASSESSMENT_URL") as raised:
        Sources.connect(f"sqlite:///{missing}", "")
    assert str(missing) in str(raised.value)
    assert not missing.exists()
    with pytest.raises(SourceError, match="ALT42_MOODLE_URL"):
        Sources.connect("", f"sqlite:///{tmp_path / 'mooodle.db'}")


def test_the_asset_run_fails_with_that_message(tmp_path, sqlite_url, instance):
    missing = tmp_path / "nowhere" / "assessment.db"
    resources = make_resources(sqlite_url, f"sqlite:///{missing}", "")
    result = dg.materialize([questions], resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    assert "does not exist" in str(result.failure_data_for_node("questions").error)
    assert not missing.exists()


def test_an_existing_sqlite_source_and_the_warehouse_file_still_work(tmp_path, demo_sources):
    sources = Sources.connect(*demo_sources)
    assert sources.assessment is not None and sources.moodle is not None
