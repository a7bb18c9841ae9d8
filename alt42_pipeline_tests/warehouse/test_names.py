"""Table prefixes are validated completely, once: whole value, lowercase, bounded length."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from alt42_pipeline import settings
from alt42_pipeline.warehouse import Warehouse, build_schema
from alt42_pipeline.warehouse.names import MAX_IDENTIFIER_LENGTH, MAX_PREFIX_LENGTH, validate_prefix


@pytest.mark.parametrize(
    "bad, why",
    [
        ("mdl_\n", "plain identifier"),  # a regex `$` lets the trailing newline through
        ("Mdl_Alt42_", "plain identifier"),  # PostgreSQL folds the views' names, not the tables'
        ("a" * 45, "at most"),  # 45 + the longest index name > 63
        ("1abc_", "plain identifier"),
        ("mdl-alt42_", "plain identifier"),
        ("mdl_ ", "plain identifier"),
    ],
)
def test_a_bad_prefix_is_refused_by_the_settings_naming_the_variable(monkeypatch, bad, why):
    monkeypatch.setenv("ALT42_TABLE_PREFIX", bad)
    with pytest.raises(settings.SettingsError, match="ALT42_TABLE_PREFIX") as info:
        settings.load()
    assert why in str(info.value)
    with pytest.raises(ValueError, match=why):
        build_schema(bad)


def test_a_huge_value_is_not_echoed_whole():
    with pytest.raises(ValueError) as info:
        validate_prefix("x" * 10_000)
    assert len(str(info.value)) < 300 and "10000 characters" in str(info.value)


@pytest.mark.parametrize("good", ["", "mdl_alt42_", "_x", "a" * MAX_PREFIX_LENGTH])
def test_good_prefixes_pass(good):
    assert validate_prefix(good) == good


def test_the_longest_prefix_keeps_every_name_within_postgres_identifiers():
    """Every name the schema makes (tables, indexes, constraints, views, the version table and
    PostgreSQL's implicit <table>_pkey and <table>_<column>_seq) fits with the longest prefix."""
    prefix = "p" * MAX_PREFIX_LENGTH
    schema = build_schema(prefix)
    names = {f"{prefix}alembic_version", f"{prefix}v_student_state", f"{prefix}student_activity"}
    for table in schema.metadata.tables.values():
        names |= {table.name, f"{table.name}_pkey"}
        names |= {i.name for i in table.indexes} | {c.name for c in table.constraints if c.name}
        names |= {f"{table.name}_{c.name}_seq" for c in table.primary_key.columns if c.autoincrement is True}
    too_long = sorted(n for n in names if len(n) > MAX_IDENTIFIER_LENGTH)
    assert too_long == []


def test_the_longest_prefix_migrates_on_postgres(pg_url):
    """Not just arithmetic: the whole schema, views included, is created under the longest prefix."""
    prefix = "p" * MAX_PREFIX_LENGTH
    wh = Warehouse(pg_url, prefix)
    wh.migrate()
    insp = sa.inspect(wh.engine)
    assert set(build_schema(prefix).metadata.tables) <= set(insp.get_table_names())
    assert {f"{prefix}v_student_state", f"{prefix}student_activity"} <= set(insp.get_view_names())
    assert wh.count("student_state_cache") == 0
    wh.engine.dispose()


def test_the_settings_error_does_not_echo_a_huge_value(monkeypatch):
    monkeypatch.setenv("ALT42_TABLE_PREFIX", "X" * 10_000)
    with pytest.raises(settings.SettingsError) as info:
        settings.load()
    assert len(str(info.value)) < 400 and "ALT42_TABLE_PREFIX" in str(info.value)
