import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from alt42_pipeline.warehouse import Warehouse, build_schema, migrate, store


def _kpi_frame(week: dt.date, users: range, value: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": list(users),
            "week_start": [week] * len(users),
            "kpis": [{"attempts": value, "note": "x"}] * len(users),
            "updated_at": [dt.datetime(2026, 1, 5, 12, 0, 0, 123456)] * len(users),
        }
    )


def test_replace_is_idempotent_and_scoped(warehouse):
    w1, w2 = dt.date(2026, 1, 5), dt.date(2026, 1, 12)
    warehouse.replace("weekly_kpi", _kpi_frame(w2, range(3), 9), {"week_start": w2})
    for _ in range(3):
        warehouse.replace("weekly_kpi", _kpi_frame(w1, range(5), 1), {"week_start": w1})
    got = warehouse.read("weekly_kpi").sort_values(["week_start", "user_id"])
    assert len(got) == 8
    assert got[got.week_start == w1].kpis.iloc[0] == {"attempts": 1, "note": "x"}
    assert got[got.week_start == w2].kpis.iloc[0]["attempts"] == 9
    assert got.updated_at.iloc[0] == pd.Timestamp("2026-01-05 12:00:00.123456")


def test_crash_mid_write_leaves_partition_as_it_was(warehouse, monkeypatch):
    week = dt.date(2026, 1, 5)
    warehouse.replace("weekly_kpi", _kpi_frame(week, range(4), 1), {"week_start": week})
    monkeypatch.setattr("alt42_pipeline.warehouse.store.CHUNK_ROWS", 2)
    method = "copy_chunk" if warehouse.dialect == "postgresql" else "insert_chunk"
    real = getattr(store, method)
    calls = {"n": 0}

    def crash_on_second_chunk(conn, table, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected crash")
        real(conn, table, chunk)

    monkeypatch.setattr(store, method, crash_on_second_chunk)
    with pytest.raises(RuntimeError, match="injected crash"):
        warehouse.replace("weekly_kpi", _kpi_frame(week, range(10, 16), 2), {"week_start": week})
    got = warehouse.read("weekly_kpi")
    assert calls["n"] == 2
    assert sorted(got.user_id) == [0, 1, 2, 3]
    assert {k["attempts"] for k in got.kpis} == {1}


def test_unknown_column_is_a_clear_error(sqlite_warehouse):
    frame = _kpi_frame(dt.date(2026, 1, 5), range(1), 1).assign(bogus=1)
    with pytest.raises(ValueError, match="bogus"):
        sqlite_warehouse.append("weekly_kpi", frame)


def test_migrations_rerun_harmlessly_with_prefix(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    for _ in range(2):
        assert migrate.upgrade(engine, "mdl_alt42_") == migrate.head_revision()
    names = set(sa.inspect(engine).get_table_names())
    assert {"mdl_alt42_events", "mdl_alt42_weekly_kpi", "mdl_alt42_alembic_version"} <= names
    # a second prefix in the same database is an independent schema
    migrate.upgrade(engine, "other_")
    assert "other_events" in set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize("bad", ["mdl-alt42", "x; drop table y", "1abc", "a b"])
def test_prefix_must_be_a_plain_identifier(bad):
    with pytest.raises(ValueError, match="plain identifier"):
        build_schema(bad)


def test_mysql_round_trip(mysql_url):
    wh = Warehouse(mysql_url)
    wh.migrate()
    week = dt.date(2026, 1, 5)
    for _ in range(2):
        wh.replace("weekly_kpi", _kpi_frame(week, range(3), 4), {"week_start": week})
    got = wh.read("weekly_kpi")
    assert len(got) == 3 and got.kpis.iloc[0]["attempts"] == 4
    assert got.updated_at.iloc[0] == pd.Timestamp("2026-01-05 12:00:00.123456")
    wh.engine.dispose()
