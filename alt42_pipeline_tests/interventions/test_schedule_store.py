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
from alt42_pipeline.interventions.schedules import Schedule, ScheduleError


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
    with pytest.raises(ScheduleError, match="already exists"):
        add_schedule(warehouse, Schedule(name="a", frequency="daily", hour=2, minute=0))
    with pytest.raises(ScheduleError, match="cannot change"):
        update_schedule(warehouse, "a", created_at=None)
    with pytest.raises(ScheduleError, match="no schedule"):
        delete_schedule(warehouse, "missing")
    [stored] = list_schedules(warehouse)
    assert (stored.hour, stored.minute) == (1, 0)


def test_init_creates_the_default_once_and_force_recreates_it(warehouse):
    first, created = init_default_schedule(warehouse)
    assert created and (first.name, first.frequency, first.hour) == (DEFAULT_SCHEDULE.name, "daily", 9)
    update_schedule(warehouse, first.name, hour=3)
    kept, created = init_default_schedule(warehouse)
    assert not created and kept.hour == 3
    recreated, created = init_default_schedule(warehouse, force=True)
    assert created and recreated.hour == 9 and recreated.id != first.id
    assert len(list_schedules(warehouse)) == 1
