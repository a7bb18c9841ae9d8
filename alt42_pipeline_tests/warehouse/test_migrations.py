"""Migrations against today's schema: an upgraded warehouse must equal a fresh install.

A database built by the revisions, one at a time from the first, is compared with a fresh
database where ``build_schema(prefix).metadata.create_all`` made today's tables: same
tables, columns (type as the dialect renders it, nullability, server default,
autoincrement, comment), primary keys, indexes, unique, check and foreign-key
constraints, table comments and options. Both databases are of the same dialect, so the
reflected values can be compared exactly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from alt42_pipeline.warehouse import build_schema, migrate
from alt42_pipeline_tests.conftest import MYSQL_ADMIN_URL, PG_ADMIN_URL, _fresh_database

PREFIXES = pytest.mark.parametrize("prefix", ["", "mdl_alt42_"], ids=["no-prefix", "mdl_alt42_"])


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def two_databases(request, tmp_path) -> Iterator[tuple[str, str]]:
    """Two fresh, empty databases of one dialect: (to upgrade, to create_all)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgraded.db'}", f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin, kind = (PG_ADMIN_URL, "PostgreSQL") if request.param == "postgresql" else (MYSQL_ADMIN_URL, "MariaDB")
    fresh = contextlib.contextmanager(_fresh_database)
    with fresh(admin, kind) as upgraded_url, fresh(admin, kind) as fresh_url:
        yield upgraded_url, fresh_url


@contextlib.contextmanager
def _engine(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _table_facts(insp: sa.Inspector, dialect: sa.Dialect, table: str) -> dict[str, str]:
    facts = {}
    columns = insp.get_columns(table)
    facts["column order"] = ", ".join(c["name"] for c in columns)
    for c in columns:
        facts[f"column {c['name']}"] = (
            f"{c['type'].compile(dialect=dialect)} {'NULL' if c['nullable'] else 'NOT NULL'}"
            f" default={c.get('default')!r} autoincrement={c.get('autoincrement')!r} comment={c.get('comment')!r}"
        )
    pk = insp.get_pk_constraint(table)
    facts["primary key"] = f"{pk.get('name')} ({', '.join(pk['constrained_columns'])})"
    for ix in insp.get_indexes(table):
        facts[f"index {ix['name']}"] = f"{'unique ' if ix['unique'] else ''}({', '.join(ix['column_names'])})"
    for uq in insp.get_unique_constraints(table):
        facts[f"unique {uq['name']}"] = f"({', '.join(uq['column_names'])})"
    for ck in insp.get_check_constraints(table):
        facts[f"check {ck['name']}"] = ck["sqltext"]
    for fk in insp.get_foreign_keys(table):
        facts[f"foreign key {fk['name']}"] = (
            f"({', '.join(fk['constrained_columns'])}) -> {fk['referred_table']}({', '.join(fk['referred_columns'])})"
        )
    with contextlib.suppress(NotImplementedError):  # SQLite keeps no comments
        facts["comment"] = repr(insp.get_table_comment(table)["text"])
    facts["options"] = repr(sorted(insp.get_table_options(table).items()))
    return facts


def snapshot(engine: sa.Engine, prefix: str) -> dict[str, str]:
    """Everything the comparison checks, one ``"table: fact" -> value`` entry per fact."""
    insp = sa.inspect(engine)
    facts = {}
    for table in insp.get_table_names():
        if table == f"{prefix}alembic_version":
            continue
        facts[table] = "exists"
        for key, value in _table_facts(insp, engine.dialect, table).items():
            facts[f"{table}: {key}"] = value
    if engine.dialect.name == "sqlite":  # sqlite_autoincrement is not reflected: read the DDL
        with engine.connect() as conn:
            for table, ddl in conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")):
                if table in facts:
                    facts[f"{table}: AUTOINCREMENT"] = str("AUTOINCREMENT" in ddl.upper())
    return facts


def differences(upgraded: dict[str, str], fresh: dict[str, str]) -> list[str]:
    return [
        f"{key}:\n    upgraded: {upgraded.get(key, '<missing>')}\n    fresh:    {fresh.get(key, '<missing>')}"
        for key in sorted(upgraded.keys() | fresh.keys())
        if upgraded.get(key) != fresh.get(key)
    ]


def assert_same_as_fresh_install(upgraded_url: str, fresh_url: str, prefix: str) -> None:
    with _engine(fresh_url) as engine:
        build_schema(prefix).metadata.create_all(engine)
        fresh = snapshot(engine, prefix)
    with _engine(upgraded_url) as engine:
        upgraded = snapshot(engine, prefix)
    assert set(build_schema(prefix).metadata.tables) <= fresh.keys()  # the snapshot sees the tables
    diff = differences(upgraded, fresh)
    if diff:
        pytest.fail("the migrated database differs from a fresh install of today's schema:\n" + "\n".join(diff))


def _tables_and_columns(engine: sa.Engine, prefix: str) -> set[str]:
    """Tables, views and each table's columns (``table.column``): what a revision can add."""
    insp = sa.inspect(engine)
    tables = set(insp.get_table_names()) - {f"{prefix}alembic_version"}
    columns = {f"{table}.{column['name']}" for table in tables for column in insp.get_columns(table)}
    return tables | set(insp.get_view_names()) | columns


@PREFIXES
def test_upgrade_one_revision_at_a_time_equals_fresh_install(two_databases, prefix):
    upgraded_url, fresh_url = two_databases
    with _engine(upgraded_url) as engine:
        for revision in migrate.revisions():
            assert migrate.upgrade(engine, prefix, revision) == revision
        assert migrate.current_revision(engine, prefix) == migrate.head_revision()
    assert_same_as_fresh_install(upgraded_url, fresh_url, prefix)


def test_upgrading_twice_is_a_noop_and_revisions_rerun_harmlessly(two_databases):
    prefix = "mdl_alt42_"
    upgraded_url, fresh_url = two_databases
    weekly_kpi = build_schema(prefix)["weekly_kpi"]
    week = dt.date(2026, 1, 5)
    row = {"user_id": 1, "week_start": week, "kpis": {"attempts": 3}, "updated_at": dt.datetime(2026, 1, 5)}
    with _engine(upgraded_url) as engine:
        migrate.upgrade(engine, prefix)
        with engine.begin() as conn:
            conn.execute(weekly_kpi.insert(), [row])
        before = snapshot(engine, prefix)
        assert migrate.upgrade(engine, prefix) == migrate.head_revision()
        assert snapshot(engine, prefix) == before
        # tables there but no revision recorded: every revision runs again over them
        with engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {prefix}alembic_version"))
        assert migrate.current_revision(engine, prefix) is None
        assert migrate.upgrade(engine, prefix) == migrate.head_revision()
        assert differences(snapshot(engine, prefix), before) == []
        with engine.connect() as conn:
            assert conn.execute(sa.select(weekly_kpi.c.user_id)).scalars().all() == [1]
    assert_same_as_fresh_install(upgraded_url, fresh_url, prefix)


@PREFIXES
def test_each_downgrade_drops_what_its_upgrade_created_and_upgrade_again_works(two_databases, prefix):
    upgraded_url, fresh_url = two_databases
    with _engine(upgraded_url) as engine:
        seen = {None: _tables_and_columns(engine, prefix)}
        previous = None
        for revision in migrate.revisions():
            migrate.upgrade(engine, prefix, revision)
            seen[revision] = _tables_and_columns(engine, prefix)
            assert seen[revision] > seen[previous], f"revision {revision} created nothing"
            previous = revision
        for revision in reversed([None, *migrate.revisions()[:-1]]):
            migrate.downgrade(engine, prefix, revision or "base")
            assert migrate.current_revision(engine, prefix) == revision
            assert _tables_and_columns(engine, prefix) == seen[revision], f"after downgrade to {revision or 'base'}"
        assert seen[None] == set()
        migrate.upgrade(engine, prefix)
        assert _tables_and_columns(engine, prefix) == seen[migrate.head_revision()]
    assert_same_as_fresh_install(upgraded_url, fresh_url, prefix)
