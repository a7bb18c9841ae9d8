"""Schedule validation and due-time computation (pure functions)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from alt42_pipeline.interventions.schedules import (
    Schedule,
    ScheduleError,
    due_slots,
    latest_due,
    next_due,
    outlook,
    partition_date,
    validate,
)

UTC = dt.UTC
SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")


def at(*args: int, tz=UTC) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"frequency": "hourly"}, "frequency must be one of daily, weekly, monthly"),
        ({"hour": 24}, "hour must be an integer from 0 to 23"),
        ({"hour": -1}, "hour must be an integer from 0 to 23"),
        ({"minute": 60}, "minute must be an integer from 0 to 59"),
        ({"minute": True}, "minute must be an integer"),
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"name": "  "}, "name must not be empty"),
        ({"name": "x" * 65}, "at most 64 characters"),
        ({"target": "payroll"}, "target must be one of interventions"),
    ],
)
def test_validation_rejects_impossible_values_with_a_clear_message(changes, fragment):
    values = {"name": "nightly", "frequency": "daily", "hour": 9, "minute": 0} | changes
    with pytest.raises(ScheduleError, match=fragment):
        validate(Schedule(**values))


def test_validation_reports_every_problem_at_once():
    with pytest.raises(ScheduleError) as info:
        validate(Schedule(name="bad", frequency="daily", hour=25, minute=61))
    assert "hour" in str(info.value) and "minute" in str(info.value)


def test_validation_names_each_field_with_its_problem():
    with pytest.raises(ScheduleError) as info:
        validate(Schedule(name="bad", frequency="hourly", hour=25, minute=0, timezone="Nowhere"))
    assert set(info.value.problems) == {"frequency", "hour", "timezone"}
    assert info.value.problems["hour"] == "hour must be an integer from 0 to 23, not 25"


def test_a_valid_schedule_passes_unchanged():
    schedule = Schedule(name="n", frequency="monthly", hour=0, minute=59, timezone="Asia/Seoul")
    assert validate(schedule) is schedule


@pytest.mark.parametrize(
    "frequency, now, expected",
    [
        ("daily", at(2026, 11, 22, 9, 0), at(2026, 11, 22, 9, 0)),  # exactly at the slot
        ("daily", at(2026, 11, 22, 8, 59), at(2026, 11, 21, 9, 0)),
        ("weekly", at(2026, 11, 25, 12, 0), at(2026, 11, 22, 9, 0)),  # 2026-11-22 is a Sunday
        ("weekly", at(2026, 11, 22, 8, 0), at(2026, 11, 15, 9, 0)),
        ("monthly", at(2026, 11, 30, 23, 0), at(2026, 11, 1, 9, 0)),
        ("monthly", at(2026, 11, 1, 8, 0), at(2026, 10, 1, 9, 0)),
    ],
)
def test_latest_due_per_frequency(frequency, now, expected):
    schedule = Schedule(name="s", frequency=frequency, hour=9, minute=0)
    assert latest_due(schedule, now) == expected


def test_latest_due_in_a_time_zone_is_the_local_wall_time():
    schedule = Schedule(name="s", frequency="daily", hour=9, minute=30, timezone="Asia/Seoul")
    # 09:30 KST is 00:30 UTC
    assert latest_due(schedule, at(2026, 11, 22, 1, 0)) == at(2026, 11, 22, 0, 30)
    assert latest_due(schedule, at(2026, 11, 22, 0, 29)) == at(2026, 11, 21, 0, 30)


def test_weekly_sunday_is_sunday_in_the_schedules_zone():
    # Sunday 2026-11-22 08:00 in Seoul is Saturday 23:00 UTC
    schedule = Schedule(name="s", frequency="weekly", hour=8, minute=0, timezone="Asia/Seoul")
    due = latest_due(schedule, at(2026, 11, 24, 0, 0))
    assert due == at(2026, 11, 21, 23, 0)
    assert due.astimezone(SEOUL).weekday() == 6


def test_daylight_saving_keeps_the_wall_clock_time():
    schedule = Schedule(name="s", frequency="daily", hour=9, minute=0, timezone="Europe/Berlin")
    # Before the change (CEST, UTC+2) and after it (CET, UTC+1)
    assert latest_due(schedule, at(2026, 10, 24, 12, 0)) == at(2026, 10, 24, 7, 0)
    assert latest_due(schedule, at(2026, 10, 26, 12, 0)) == at(2026, 10, 26, 8, 0)


def test_a_time_skipped_by_spring_forward_fires_once_at_the_first_valid_moment():
    schedule = Schedule(name="s", frequency="daily", hour=2, minute=30, timezone="Europe/Berlin")
    # 2026-03-29 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day
    due = latest_due(schedule, at(2026, 3, 29, 12, 0))
    assert due == at(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert latest_due(schedule, at(2026, 3, 28, 12, 0)) == at(2026, 3, 28, 1, 30)


def test_a_time_repeated_by_fall_back_is_one_slot():
    schedule = Schedule(name="s", frequency="daily", hour=2, minute=30, timezone="Europe/Berlin")
    # 2026-10-25 03:00 CEST falls back to 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC
    first = latest_due(schedule, at(2026, 10, 25, 0, 45))
    assert first == at(2026, 10, 25, 0, 30)
    # after the second 02:30 the latest slot is still the first occurrence: no second run
    assert latest_due(schedule, at(2026, 10, 25, 1, 45)) == first
    first_tick = due_slots([_stored(schedule)], at(2026, 10, 25, 0, 45), {})
    second_tick = due_slots([_stored(schedule)], at(2026, 10, 25, 1, 45), first_tick.cursor)
    assert len(first_tick.slots) == 1 and second_tick.slots == []


def test_latest_due_needs_an_aware_now():
    with pytest.raises(ValueError, match="aware"):
        latest_due(Schedule(name="s", frequency="daily", hour=1, minute=0), dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "due, zone, expected",
    [
        (at(2026, 11, 22, 9, 0), "UTC", dt.date(2026, 11, 21)),
        # 01:00 KST on the 23rd is 16:00 UTC on the 22nd: the UTC day 22 has not ended yet
        (at(2026, 11, 23, 1, 0, tz=SEOUL), "Asia/Seoul", dt.date(2026, 11, 21)),
        # 09:00 KST on the 23rd is 00:00 UTC on the 23rd: yesterday in both zones is the 22nd
        (at(2026, 11, 23, 9, 0, tz=SEOUL), "Asia/Seoul", dt.date(2026, 11, 22)),
        # 20:00 in New York on the 22nd is 01:00 UTC on the 23rd: local yesterday is the 21st
        (at(2026, 11, 22, 20, 0, tz=ZoneInfo("America/New_York")), "America/New_York", dt.date(2026, 11, 21)),
    ],
)
def test_partition_date_is_yesterday_and_a_finished_utc_day(due, zone, expected):
    assert partition_date(due, zone) == expected


def _stored(schedule: Schedule, sid: int = 1, changed: dt.datetime = dt.datetime(2026, 1, 1)) -> Schedule:
    return Schedule(**{**schedule.__dict__, "id": sid, "created_at": changed, "updated_at": changed})


DAILY_9 = Schedule(name="d", frequency="daily", hour=9, minute=0)


def test_due_slots_fires_the_latest_missed_slot_once():
    tick = due_slots([_stored(DAILY_9)], at(2026, 11, 20, 10, 0), {})
    assert [s.due for s in tick.slots] == [at(2026, 11, 20, 9, 0)]
    # the daemon is down for three days: one slot, the latest
    tick = due_slots([_stored(DAILY_9)], at(2026, 11, 23, 15, 0), tick.cursor)
    assert [(s.due, s.partition) for s in tick.slots] == [(at(2026, 11, 23, 9, 0), dt.date(2026, 11, 22))]
    assert tick.slots[0].key == "1:2026-11-23T09:00:00+00:00"
    assert due_slots([_stored(DAILY_9)], at(2026, 11, 23, 15, 1), tick.cursor).slots == []


def test_due_slots_skips_inactive_schedules_and_slots_before_a_change():
    inactive = dataclasses.replace(_stored(DAILY_9), is_active=False)
    assert due_slots([inactive], at(2026, 11, 23, 10, 0), {}).slots == []
    changed_after_slot = _stored(DAILY_9, changed=dt.datetime(2026, 11, 23, 9, 30))
    assert due_slots([changed_after_slot], at(2026, 11, 23, 10, 0), {}).slots == []
    assert len(due_slots([changed_after_slot], at(2026, 11, 24, 9, 0), {}).slots) == 1


def test_due_slots_keeps_cursor_entries_of_inactive_and_drops_deleted_schedules():
    inactive = dataclasses.replace(_stored(DAILY_9, sid=2), is_active=False)
    assert due_slots([inactive], at(2026, 11, 23, 10, 0), {"2": "x", "7": "y"}).cursor == {"2": "x"}


def test_an_invalid_row_is_reported_and_the_other_schedules_still_fire():
    broken = dataclasses.replace(_stored(DAILY_9, sid=3), timezone="Mars/Olympus")
    tick = due_slots([broken, _stored(DAILY_9, sid=4)], at(2026, 11, 23, 10, 0), {})
    assert [s.schedule.id for s in tick.slots] == [4]
    assert len(tick.invalid) == 1 and "schedule id 3" in tick.invalid[0] and "Mars/Olympus" in tick.invalid[0]


@pytest.mark.parametrize(
    "schedule, now, expected",
    [
        (DAILY_9, at(2026, 11, 20, 8, 0), at(2026, 11, 20, 9, 0)),
        (DAILY_9, at(2026, 11, 20, 9, 0), at(2026, 11, 21, 9, 0)),  # a slot at now is due, not next
        (dataclasses.replace(DAILY_9, frequency="weekly"), at(2026, 11, 23, 0, 0), at(2026, 11, 29, 9, 0)),
        (dataclasses.replace(DAILY_9, frequency="monthly"), at(2026, 11, 2, 0, 0), at(2026, 12, 1, 9, 0)),
        # 09:00 on Sunday in Seoul is Sunday 00:00 UTC
        (
            Schedule(name="s", frequency="weekly", hour=9, minute=0, timezone="Asia/Seoul"),
            at(2026, 11, 25),
            at(2026, 11, 29),
        ),
        # 02:30 does not exist on 2026-03-29 in Berlin: the first valid moment, 03:00 CEST
        (
            Schedule(name="s", frequency="daily", hour=2, minute=30, timezone="Europe/Berlin"),
            at(2026, 3, 28, 12),
            at(2026, 3, 29, 1),
        ),
    ],
)
def test_next_due_is_the_first_slot_after_now(schedule, now, expected):
    assert next_due(schedule, now) == expected


def test_outlook_says_what_the_sensor_will_do_with_each_schedule():
    now = at(2026, 11, 23, 10, 0)
    fired = _stored(DAILY_9, sid=1)
    missed = _stored(dataclasses.replace(DAILY_9, name="missed", hour=6), sid=2)
    new = _stored(DAILY_9, sid=3, changed=dt.datetime(2026, 11, 23, 9, 30))  # changed after today's slot
    off = dataclasses.replace(_stored(DAILY_9, sid=4), is_active=False)
    broken = dataclasses.replace(_stored(DAILY_9, sid=5), timezone="Mars/Olympus")
    views = outlook([fired, missed, new, off, broken], now, {"1": "2026-11-23T09:00:00+00:00"})
    by_id = {v.schedule.id: v for v in views}
    # today's 09:00 slot was launched: the next is tomorrow's, for today
    assert (by_id[1].pending, by_id[1].next_due, by_id[1].partition) == (
        False,
        at(2026, 11, 24, 9),
        dt.date(2026, 11, 23),
    )
    assert by_id[1].last_fired == at(2026, 11, 23, 9)
    # today's 06:00 slot has not been launched: the sensor's next tick launches it, for yesterday
    assert (by_id[2].pending, by_id[2].next_due, by_id[2].partition) == (
        True,
        at(2026, 11, 23, 6),
        dt.date(2026, 11, 22),
    )
    assert (by_id[3].pending, by_id[3].next_due) == (False, at(2026, 11, 24, 9))
    assert by_id[4].next_due is None and by_id[4].problem == "inactive"
    assert by_id[5].next_due is None and "Mars/Olympus" in by_id[5].problem
    # the same decision as the sensor's own
    assert [
        s.schedule.id
        for s in due_slots([fired, missed, new, off, broken], now, {"1": "2026-11-23T09:00:00+00:00"}).slots
    ] == [2]
