"""Batch schedules: validation, and when each one is due.

A schedule says *daily*, *weekly* (Sundays) or *monthly* (the 1st) at ``hour:minute`` in a
time zone. It is turned into a cron expression and croniter walks it in that zone, so
daylight-saving changes behave like a wall clock: a time that does not exist that day (spring
forward) fires at the first valid moment after it, and a time that happens twice (fall back)
is one slot, the first occurrence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from ..redaction import shown

FREQUENCIES = ("daily", "weekly", "monthly")
#: Batches a schedule can start, and the name of the Dagster job each one launches.
TARGET_JOBS = {"interventions": "interventions_job"}
TARGETS = tuple(TARGET_JOBS)
NAME_MAX = 64
#: Characters a schedule name may not hold: they break the CLI's listing, log lines and run tags.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class ScheduleError(ValueError):
    """A schedule with an impossible value; the message says which and why, and ``problems``
    maps each field at fault to what is wrong with it (empty when no one field is)."""

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = dict(problems or {})


class ScheduleNotFound(ScheduleError):
    """No schedule has the id (or name) asked for."""


class ScheduleConflict(ScheduleError):
    """The change would give two schedules the same name."""


@dataclass(frozen=True)
class Schedule:
    """One row of ``batch_schedules`` (``id`` and the timestamps are set by the store)."""

    name: str
    frequency: str
    hour: int
    minute: int
    timezone: str = "UTC"
    is_active: bool = True
    target: str = "interventions"
    id: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cron(self) -> str:
        return cron_expression(self.frequency, self.hour, self.minute)

    def describe(self) -> str:
        """In words: ``every Sunday at 07:00 Asia/Seoul, target interventions, active``."""
        when = {"daily": "every day", "weekly": "every Sunday", "monthly": "on the 1st of every month"}
        state = "active" if self.is_active else "inactive"
        return (
            f"{when.get(self.frequency, self.frequency)} at {self.hour:02d}:{self.minute:02d} {self.timezone}, "
            f"target {self.target}, {state}"
        )


def validate(schedule: Schedule) -> Schedule:
    """Return ``schedule`` if every value is possible, else raise :class:`ScheduleError`
    naming every field at fault."""
    problems = {}
    if not isinstance(schedule.name, str) or not schedule.name.strip():
        problems["name"] = "name must not be empty"
    elif len(schedule.name) > NAME_MAX:
        problems["name"] = f"name must be at most {NAME_MAX} characters, not {len(schedule.name)}"
    elif _CONTROL.search(schedule.name):
        problems["name"] = "name must not contain a control character (newline, tab, NUL, ...)"
    if schedule.frequency not in FREQUENCIES:
        problems["frequency"] = f"frequency must be one of {', '.join(FREQUENCIES)}, not {shown(schedule.frequency)}"
    if not _int_in(schedule.hour, 0, 23):
        problems["hour"] = f"hour must be an integer from 0 to 23, not {shown(schedule.hour)}"
    if not _int_in(schedule.minute, 0, 59):
        problems["minute"] = f"minute must be an integer from 0 to 59, not {shown(schedule.minute)}"
    try:
        if len(str(schedule.timezone)) > NAME_MAX:
            raise ValueError
        ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems["timezone"] = f"timezone {shown(schedule.timezone)} is not an IANA time zone (e.g. UTC, Asia/Seoul)"
    if schedule.target not in TARGETS:
        problems["target"] = f"target must be one of {', '.join(TARGETS)}, not {shown(schedule.target)}"
    if problems:
        raise ScheduleError(f"schedule {shown(schedule.name)}: " + "; ".join(problems.values()), problems)
    return schedule


def _int_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def cron_expression(frequency: str, hour: int, minute: int) -> str:
    """The cron expression of a frequency: weekly is Sunday, monthly the 1st."""
    day_fields = {"daily": "* * *", "weekly": "* * 0", "monthly": "1 * *"}
    return f"{minute} {hour} {day_fields[frequency]}"


def latest_due(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The latest time ``schedule`` was due at or before ``now`` (aware, UTC).

    Missed slots collapse into this one: after any downtime only the latest slot is due.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    zone = schedule.zone
    local_now = now.astimezone(zone)
    # croniter's get_prev is strictly before its start; start a microsecond later so that
    # a slot exactly at ``now`` counts as due.
    start = local_now + dt.timedelta(microseconds=1)
    due = croniter(schedule.cron, start).get_prev(dt.datetime)
    return _first_occurrence(due, zone).astimezone(dt.UTC)


def next_due(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The first time ``schedule`` is due after ``now`` (aware, UTC); a slot exactly at
    ``now`` is due already (:func:`latest_due`), so this is the one after it."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    zone = schedule.zone
    due = croniter(schedule.cron, now.astimezone(zone)).get_next(dt.datetime)
    return _first_occurrence(due, zone).astimezone(dt.UTC)


def _first_occurrence(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A wall time that happens twice (fall back) as its first occurrence."""
    earlier = moment.replace(tzinfo=zone, fold=0)
    if earlier.utcoffset() != moment.replace(tzinfo=zone, fold=1).utcoffset():
        return earlier
    return moment


def partition_date(due: dt.datetime, timezone: str) -> dt.date:
    """The day a batch due at ``due`` looks at: yesterday in the schedule's zone.

    Events are partitioned by UTC day, so it is never a UTC day that had not ended at the
    due time (a schedule east of UTC running just after local midnight looks at the day
    before), and the partition it names is always complete.
    """
    local_yesterday = due.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)
    utc_yesterday = due.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return min(local_yesterday, utc_yesterday)


def slot_key(schedule_id: int, due: dt.datetime) -> str:
    """Identity of one firing of one schedule (the run key): id + due time in UTC."""
    return f"{schedule_id}:{due.astimezone(dt.UTC).isoformat()}"


@dataclass(frozen=True)
class DueSlot:
    schedule: Schedule
    due: dt.datetime
    partition: dt.date

    @property
    def key(self) -> str:
        return slot_key(self.schedule.id, self.due)


@dataclass
class Tick:
    """What a sensor tick decides: slots to launch, the new cursor, schedules it could not use."""

    slots: list[DueSlot]
    cursor: dict[str, str]
    invalid: list[str]


def due_slots(schedules: list[Schedule], now: dt.datetime, last_fired: dict[str, str]) -> Tick:
    """Which schedules fire now, and the new ``last_fired`` (schedule id -> due ISO, UTC).

    A schedule fires for its latest due time when it is active, that time is after the
    schedule was created or last changed (naive UTC ``updated_at``), and it is later than the
    last time fired for it. Entries of deleted schedules are dropped from the cursor. A row
    with impossible values (written around the CLI) is reported in ``invalid`` and skipped;
    the other schedules still fire.
    """
    tick = Tick([], {}, [])
    for schedule in schedules:
        sid = str(schedule.id)
        previous = last_fired.get(sid)
        if previous is not None:
            tick.cursor[sid] = previous
        if not schedule.is_active:
            continue
        try:
            validate(schedule)
        except ScheduleError as exc:
            tick.invalid.append(f"schedule id {sid}: {exc}")
            continue
        due = latest_due(schedule, now)
        changed = schedule.updated_at or schedule.created_at
        if changed is not None and due < changed.replace(tzinfo=dt.UTC):
            continue
        if previous is not None and due <= dt.datetime.fromisoformat(previous):
            continue
        tick.slots.append(DueSlot(schedule, due, partition_date(due, schedule.timezone)))
        tick.cursor[sid] = due.isoformat()
    return tick


@dataclass(frozen=True)
class Outlook:
    """What ``db_schedule_sensor`` will do with one schedule, seen from ``now``.

    ``pending``: a slot is due and not launched yet, so the sensor's next tick launches it
    (``next_due`` is that slot); otherwise ``next_due`` is the next slot. ``partition`` is the
    day that run will look at. Both are None when the sensor skips the schedule (``problem``
    says why: inactive, or impossible values).
    """

    schedule: Schedule
    next_due: dt.datetime | None
    partition: dt.date | None
    pending: bool
    last_fired: dt.datetime | None
    problem: str | None = None


def outlook(schedules: list[Schedule], now: dt.datetime, last_fired: dict[str, str]) -> list[Outlook]:
    """Each schedule's :class:`Outlook`, by the sensor's own rule (:func:`due_slots`) and the
    sensor's cursor ``last_fired``."""
    tick = due_slots(schedules, now, last_fired)
    pending = {slot.schedule.id: slot for slot in tick.slots}
    out = []
    for schedule in schedules:
        fired = last_fired.get(str(schedule.id))
        view = {"schedule": schedule, "last_fired": dt.datetime.fromisoformat(fired) if fired else None}
        if not schedule.is_active:
            out.append(Outlook(**view, next_due=None, partition=None, pending=False, problem="inactive"))
            continue
        try:
            validate(schedule)
        except ScheduleError as exc:
            out.append(Outlook(**view, next_due=None, partition=None, pending=False, problem=str(exc)))
            continue
        slot = pending.get(schedule.id)
        due = slot.due if slot else next_due(schedule, now)
        out.append(Outlook(**view, next_due=due, partition=partition_date(due, schedule.timezone), pending=bool(slot)))
    return out
