"""The schedule store on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from alt42_pipeline.interventions.schedule_store import (
    DEFAULT_SCHEDULE,
    add_schedule,
    delete_schedule,
    get_schedule,
    init_default_schedule,
    list_schedules,
    update_schedule,
)
from alt42_pipeline.interventions.schedules import Schedule, ScheduleConflict, ScheduleError, ScheduleNotFound


def test_add_update_delete_round_trip(warehouse):
    added = add_schedule(
        warehouse, Schedule(name="weekly", frequency="weekly", hour=7, minute=15, timezone="Asia/Seoul")
    )
    assert added.id is not None
    [stored] = list_schedules(warehouse)
    assert (stored.name, stored.frequency, stored.hour, stored.minute, stored.timezone, stored.is_active) == (
        "weekly",
        "weekly",
        7,
        15,
        "Asia/Seoul",
        True,
    )
    updated = update_schedule(warehouse, "weekly", is_active=False, hour=8)
    assert updated.updated_at >= stored.updated_at
    again = get_schedule(warehouse, str(added.id))
    assert (again.is_active, again.hour, again.created_at) == (False, 8, stored.created_at)
    delete_schedule(warehouse, "weekly")
    assert list_schedules(warehouse) == []


def test_bad_input_is_rejected_and_changes_nothing(warehouse):
    add_schedule(warehouse, Schedule(name="a", frequency="daily", hour=1, minute=0))
    with pytest.raises(ScheduleError, match="hour must be"):
        update_schedule(warehouse, "a", hour=99)
    with pytest.raises(ScheduleConflict, match="already exists") as taken:
        add_schedule(warehouse, Schedule(name="a", frequency="daily", hour=2, minute=0))
    assert set(taken.value.problems) == {"name"}
    add_schedule(warehouse, Schedule(name="b", frequency="daily", hour=2, minute=0))
    with pytest.raises(ScheduleConflict, match="already exists"):
        update_schedule(warehouse, "b", name="a")
    with pytest.raises(ScheduleError, match="cannot change") as fixed:
        update_schedule(warehouse, "a", created_at=None)
    assert set(fixed.value.problems) == {"created_at"}
    with pytest.raises(ScheduleNotFound, match="no schedule"):
        delete_schedule(warehouse, "missing")
    with pytest.raises(ScheduleNotFound):
        update_schedule(warehouse, 999, hour=3)
    stored, _ = list_schedules(warehouse)
    assert (stored.name, stored.hour, stored.minute) == ("a", 1, 0)


def test_init_creates_the_default_once_and_force_recreates_it(warehouse):
    first, created = init_default_schedule(warehouse)
    assert created and (first.name, first.frequency, first.hour) == (DEFAULT_SCHEDULE.name, "daily", 9)
    update_schedule(warehouse, first.name, hour=3)
    kept, created = init_default_schedule(warehouse)
    assert not created and kept.hour == 3
    recreated, created = init_default_schedule(warehouse, force=True)
    assert created and recreated.hour == 9 and recreated.id != first.id
    assert len(list_schedules(warehouse)) == 1
