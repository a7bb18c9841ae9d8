"""Commands of the intervention batch (``python -m alt42_pipeline ...``).

``schedules list|add|update|delete|init`` edit ``batch_schedules`` (changes take effect at
the sensor's next tick); ``batch-run`` runs a day's batch by hand through the Dagster
webserver (``ALT42_DAGSTER_URL``), unless a run of that day is already queued or running;
``batch-status`` prints the latest runs of each schedule with their counts, read from the
Dagster instance (``DAGSTER_HOME``) and the warehouse. ``batch-run`` and ``batch-status`` call
the same functions as the HTTP API (``alt42_pipeline.control.batch``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any

from ..interventions import (
    DEFAULT_SCHEDULE,
    FREQUENCIES,
    TARGETS,
    Schedule,
    ScheduleError,
    add_schedule,
    delete_schedule,
    init_default_schedule,
    list_schedules,
    update_schedule,
)
from .common import open_warehouse

#: The counts batch-status shows per run (skipped = missing records + duplicates).
STATUS_COUNTS = ("processed", "skipped", "failed")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``schedules`` and ``batch-status`` on a parent parser's subparsers."""
    schedules = subparsers.add_parser("schedules", help="list, add, update, delete batch schedules")
    actions = schedules.add_subparsers(dest="action", required=True)

    actions.add_parser("list", help="every schedule")

    add = actions.add_parser("add", help="add a schedule")
    add.add_argument("name")
    add.add_argument("--frequency", required=True, choices=FREQUENCIES, help="weekly = Sunday, monthly = the 1st")
    add.add_argument("--hour", type=int, required=True)
    add.add_argument("--minute", type=int, default=0)
    add.add_argument("--timezone", default="UTC", help="IANA zone, e.g. Asia/Seoul (default UTC)")
    add.add_argument("--target", default=TARGETS[0], choices=TARGETS)
    add.add_argument("--inactive", action="store_true", help="add it switched off")

    update = actions.add_parser("update", help="change a schedule (by id or name)")
    update.add_argument("ref", help="schedule id or name")
    update.add_argument("--name")
    update.add_argument("--frequency", choices=FREQUENCIES)
    update.add_argument("--hour", type=int)
    update.add_argument("--minute", type=int)
    update.add_argument("--timezone")
    update.add_argument("--target", choices=TARGETS)
    state = update.add_mutually_exclusive_group()
    state.add_argument("--active", dest="is_active", action="store_true", default=None)
    state.add_argument("--inactive", dest="is_active", action="store_false")

    delete = actions.add_parser("delete", help="delete a schedule (by id or name)")
    delete.add_argument("ref", help="schedule id or name")

    init = actions.add_parser("init", help=f"create the default schedule: {DEFAULT_SCHEDULE.describe()}")
    init.add_argument("--force", action="store_true", help="delete and recreate it")
    schedules.set_defaults(func=run_schedules)

    status = subparsers.add_parser("batch-status", help="latest runs of each schedule with their counts")
    status.add_argument("--limit", type=int, default=10, help="runs per schedule (default 10)")
    status.set_defaults(func=run_batch_status)

    run = subparsers.add_parser(
        "batch-run", help="run the batch for a day now (through the Dagster webserver, ALT42_DAGSTER_URL)"
    )
    run.add_argument("--date", help="the day the batch looks at, YYYY-MM-DD (default: yesterday, UTC)")
    run.set_defaults(func=run_batch_run)


def run_schedules(args: argparse.Namespace) -> int:
    wh = open_warehouse()
    try:
        if args.action == "list":
            print(format_schedules(list_schedules(wh)))
        elif args.action == "add":
            added = add_schedule(
                wh,
                Schedule(
                    name=args.name,
                    frequency=args.frequency,
                    hour=args.hour,
                    minute=args.minute,
                    timezone=args.timezone,
                    target=args.target,
                    is_active=not args.inactive,
                ),
            )
            print(f"added schedule {added.id} {added.name!r}: {added.describe()}")
        elif args.action == "update":
            fields = ("name", "frequency", "hour", "minute", "timezone", "target", "is_active")
            changes = {f: getattr(args, f) for f in fields if getattr(args, f) is not None}
            if not changes:
                raise ScheduleError("nothing to change: give at least one option (see --help)")
            updated = update_schedule(wh, args.ref, **changes)
            print(f"updated schedule {updated.id} {updated.name!r}: {updated.describe()}")
        elif args.action == "delete":
            deleted = delete_schedule(wh, args.ref)
            print(f"deleted schedule {deleted.id} {deleted.name!r}")
        elif args.action == "init":
            schedule, created = init_default_schedule(wh, force=args.force)
            verb = "created" if created else "kept the existing"
            print(f"{verb} default schedule {schedule.id} {schedule.name!r}: {schedule.describe()}")
    except ScheduleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def format_schedules(schedules: Sequence[Schedule]) -> str:
    if not schedules:
        return "no schedules (add one, or run: schedules init)"
    rows = [("id", "name", "frequency", "time", "timezone", "active", "target", "updated (UTC)")]
    for s in schedules:
        updated = s.updated_at.strftime("%Y-%m-%d %H:%M") if s.updated_at else ""
        rows.append(
            (
                str(s.id),
                s.name,
                s.frequency,
                f"{s.hour:02d}:{s.minute:02d}",
                s.timezone,
                "yes" if s.is_active else "no",
                s.target,
                updated,
            )
        )
    return format_table(rows)


def format_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def run_batch_status(args: argparse.Namespace, instance: Any = None) -> int:
    from ..control.batch import batch_status
    from .common import dagster_instance  # the Dagster instance is only needed here

    wh = open_warehouse()  # first: its problem is the one to report when both are missing
    instance = instance or dagster_instance()
    print(format_status(batch_status(instance, wh, args.limit)))
    return 0


def format_status(groups: Sequence[Any]) -> str:
    """The groups of :func:`~alt42_pipeline.control.batch.batch_status` as text, one table each."""
    blocks = []
    header = ("run", "status", "partition", "trigger", "started (UTC)", *STATUS_COUNTS, "written", "errors")
    for group in groups:
        title = group.label + (f" (id {group.schedule.id}: {group.schedule.describe()})" if group.schedule else "")
        n = len(group.runs)
        blocks.append(f"{title}: " + (f"latest {n} run{'s' if n != 1 else ''}" if n else "no runs yet"))
        if group.runs:
            blocks.append(format_table([header, *[_status_row(run) for run in group.runs]]))
    return "\n".join(blocks)


def _status_row(run: Any) -> tuple[str, ...]:
    started = run.started_at or run.created_at
    counts = tuple("-" if run.counts[name] is None else str(run.counts[name]) for name in STATUS_COUNTS)
    return (
        run.run_id[:8],
        run.status,
        run.partition,
        run.trigger,
        started.strftime("%Y-%m-%d %H:%M"),
        *counts,
        str(run.written["interventions"]),
        str(run.written["errors"]),
    )


def run_batch_run(args: argparse.Namespace) -> int:
    """Run the batch for a day through the Dagster webserver: the API's own code path."""
    from .. import settings
    from ..control.batch import BatchDayError, GraphQLLauncher, LaunchError, batch_day, launch_batch
    from .common import dagster_instance

    s = settings.load()
    try:
        day = batch_day(dt.date.fromisoformat(args.date) if args.date else None, s.partitions_start)
        instance = dagster_instance()
        launched = launch_batch(day, instance=instance, launcher=GraphQLLauncher(s.api.dagster_url), launched_by="cli")
    except (ValueError, BatchDayError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if launched.launched:
        print(f"launched run {launched.run_id} of {launched.job} for {day} ({launched.status})")
    else:
        print(f"a run for {day} is already {launched.status}: {launched.run_id} (not launching a second one)")
    return 0
