"""Reading and editing ``batch_schedules`` through the warehouse."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from ..clock import utcnow
from ..warehouse import Warehouse
from .schedules import Schedule, ScheduleConflict, ScheduleError, ScheduleNotFound, validate

#: The schedule ``init`` creates: every day at 09:00, like the legacy batch.
DEFAULT_SCHEDULE = Schedule(name="daily_interventions", frequency="daily", hour=9, minute=0)
EDITABLE = ("name", "frequency", "hour", "minute", "timezone", "is_active", "target")


def list_schedules(wh: Warehouse) -> list[Schedule]:
    wh.ensure_schema()
    table = wh.table("batch_schedules")
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    return [Schedule(**dict(row)) for row in rows]


def get_schedule(wh: Warehouse, ref: str | int) -> Schedule:
    """A schedule by id or, failing that, by name; ScheduleError if there is none."""
    schedules = list_schedules(wh)
    for schedule in [s for s in schedules if str(s.id) == str(ref)] + [s for s in schedules if s.name == ref]:
        return schedule
    raise ScheduleNotFound(f"no schedule with id or name {ref!r}")


def add_schedule(wh: Warehouse, schedule: Schedule) -> Schedule:
    validate(schedule)
    table = wh.table("batch_schedules")
    now = utcnow()
    values = {k: getattr(schedule, k) for k in EDITABLE} | {"created_at": now, "updated_at": now}
    try:
        result = wh.execute(sa.insert(table).values(**values))
    except sa.exc.IntegrityError:
        raise _name_taken(schedule.name) from None
    return dataclasses.replace(schedule, id=result.inserted_primary_key[0], created_at=now, updated_at=now)


def _name_taken(name: str) -> ScheduleConflict:
    message = f"a schedule named {name!r} already exists"
    return ScheduleConflict(message, {"name": message})


def update_schedule(wh: Warehouse, ref: str | int, **changes: Any) -> Schedule:
    """Change some fields of a schedule; it takes effect at the sensor's next tick."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        message = f"cannot change {sorted(unknown)}; editable fields: {', '.join(EDITABLE)}"
        raise ScheduleError(message, {field: f"{field} cannot be changed" for field in sorted(unknown)})
    current = get_schedule(wh, ref)
    updated = validate(dataclasses.replace(current, **changes, updated_at=utcnow()))
    table = wh.table("batch_schedules")
    values = {k: getattr(updated, k) for k in EDITABLE} | {"updated_at": updated.updated_at}
    try:
        wh.execute(sa.update(table).where(table.c.id == current.id).values(**values))
    except sa.exc.IntegrityError:
        raise _name_taken(updated.name) from None
    return updated


def delete_schedule(wh: Warehouse, ref: str | int) -> Schedule:
    current = get_schedule(wh, ref)
    table = wh.table("batch_schedules")
    wh.execute(sa.delete(table).where(table.c.id == current.id))
    return current


def init_default_schedule(wh: Warehouse, force: bool = False) -> tuple[Schedule, bool]:
    """Create the default schedule if missing (``force``: delete and recreate it).

    Returns the schedule and whether it was (re)created.
    """
    existing = next((s for s in list_schedules(wh) if s.name == DEFAULT_SCHEDULE.name), None)
    if existing is not None and not force:
        return existing, False
    if existing is not None:
        delete_schedule(wh, existing.id)
    return add_schedule(wh, DEFAULT_SCHEDULE), True
