"""Exactly one current calibration, held by the database: two calibrations racing on a real
PostgreSQL (and MariaDB) leave one current calibration, and the rescore works after them."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from alt42_pipeline import irt
from alt42_pipeline.calibration import CalibrationSettings, calibrate_and_link, current_items, write_calibration
from alt42_pipeline.warehouse import Warehouse

ITEMS = irt.simulate_items(10, seed=5)
RESPONSES = irt.simulate_responses(ITEMS, 300, seed=6)[0].astype({"item_id": str})
RESPONSES["user_id"] += 1  # MySQL turns a 0 in an auto-increment key into the next id
ANCHORS = ITEMS.iloc[:3][["a", "d"]].set_axis(ITEMS.index[:3].astype(str)).rename_axis("item_id")
ANCHORS["b"] = -ANCHORS["d"] / ANCHORS["a"]
SETTINGS = CalibrationSettings()
WINDOW = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
AT = dt.datetime(2026, 4, 1, 3, 0)


@pytest.fixture(scope="module")
def outcome():
    return calibrate_and_link(RESPONSES, ANCHORS, SETTINGS)


def _write(url: str, outcome, calibration_id: str, errors: list) -> None:
    wh = Warehouse(url)
    try:
        write_calibration(wh, outcome, SETTINGS, WINDOW, calibration_id, None, AT)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
    finally:
        wh.engine.dispose()


def _current_calibrations(wh: Warehouse) -> list[str]:
    return sorted(set(wh.read("mirt_item_params", {"is_current": True})["calibration_id"]))


def _waiting(admin: sa.Engine, dialect: str) -> int:
    """Sessions waiting on a lock."""
    with admin.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar()


@pytest.mark.parametrize("server", ["postgresql"])
def test_two_racing_calibrations_leave_one_current(request, server, outcome):
    """PostgreSQL (READ COMMITTED) is where the race bites: the second writer's is_current
    update does not see rows the first one inserted. (MariaDB's InnoDB updates read the
    latest committed rows, so there the flip already covers them; the lock row holds on
    every database.)"""
    url = request.getfixturevalue("pg_url")
    wh = Warehouse(url)
    wh.migrate()
    write_calibration(wh, outcome, SETTINGS, WINDOW, "c0-previous", None, AT)  # the nightly of yesterday
    meta = wh.table("mirt_fit_meta").name
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    errors: list[Exception] = []
    holder = sa.create_engine(url).connect()
    # Hold the first writer just before its commit (its insert into mirt_fit_meta waits on
    # this lock) while the second one starts: the widest window two runs can overlap in.
    tx = holder.begin()
    holder.execute(sa.text(f'LOCK TABLE "{meta}" IN EXCLUSIVE MODE'))
    first = threading.Thread(target=_write, args=(url, outcome, "c1-first", errors))
    second = threading.Thread(target=_write, args=(url, outcome, "c2-second", errors))
    try:
        first.start()
        deadline = time.monotonic() + 20
        while _waiting(admin, server) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        second.start()
        while _waiting(admin, server) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        overlapped = _waiting(admin, server)
    finally:
        tx.rollback()
        holder.close()
        first.join(60)
        second.join(60)
    assert overlapped >= 2, f"the two writers never overlapped {errors}"
    admin.dispose()
    assert errors == [], [f"{type(e).__name__}: {str(e)[:300]}" for e in errors]
    assert _current_calibrations(wh) == ["c2-second"]
    items, linking = current_items(wh)
    assert items.index.is_unique and len(items) == len(outcome.items)
    assert linking["calibration_id"] == "c2-second"
    assert wh.read("mirt_current_calibration")["calibration_id"].tolist() == ["c2-second"]
    # the daily rescore reads the current items: no "duplicate ids"
    irt.score(RESPONSES, items)
    wh.engine.dispose()


def test_the_lock_row_is_written_on_mariadb_too(mysql_url, outcome):
    wh = Warehouse(mysql_url)
    wh.migrate()
    for cid in ("c1", "c2"):
        write_calibration(wh, outcome, SETTINGS, WINDOW, cid, None, AT)
    assert _current_calibrations(wh) == ["c2"]
    assert wh.read("mirt_current_calibration")["calibration_id"].tolist() == ["c2"]
    wh.engine.dispose()


def test_the_database_refuses_a_second_current_row_for_an_item(warehouse, outcome):
    """Even a writer that bypasses write_calibration cannot make two current rows of an item
    (partial unique index on PostgreSQL and SQLite)."""
    write_calibration(warehouse, outcome, SETTINGS, WINDOW, "c0", None, AT)
    row = warehouse.read("mirt_item_params").drop(columns=["id"]).iloc[[0]].assign(calibration_id="rogue")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        warehouse.append("mirt_item_params", row)
    assert _current_calibrations(warehouse) == ["c0"]


def test_the_migration_repairs_a_warehouse_left_with_two_current_calibrations(sqlite_url, outcome):
    from alt42_pipeline.warehouse import migrate

    wh = Warehouse(sqlite_url)
    migrate.upgrade(wh.engine, "", "0004")
    rows = []
    for n, cid in enumerate(["old", "newer"]):
        write_rows = outcome.items.reset_index().rename(columns={"index": "item_id"})
        rows.append(
            write_rows.assign(
                calibration_id=cid,
                model="2pl",
                n_responses=1,
                is_anchor=False,
                is_current=True,
                fitted_at=AT + dt.timedelta(hours=n),
            )[
                [
                    "calibration_id",
                    "item_id",
                    "model",
                    "a",
                    "d",
                    "b",
                    "n_responses",
                    "is_anchor",
                    "is_current",
                    "fitted_at",
                ]
            ]
        )
    t = wh.schema["mirt_item_params"]
    with wh.engine.begin() as conn:
        for frame in rows:
            conn.execute(sa.insert(t), frame.to_dict("records"))
    migrate.upgrade(wh.engine, "")
    assert _current_calibrations(wh) == ["newer"]
    assert wh.read("mirt_current_calibration")["calibration_id"].tolist() in (["newer"], ["old"])
    wh.engine.dispose()
