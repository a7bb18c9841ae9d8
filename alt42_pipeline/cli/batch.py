"""Commands of the intervention batch (``python -m alt42_pipeline ...``).

``schedules list|add|update|delete|init`` edit ``batch_schedules`` (changes take effect at
the sensor's next tick); ``batch-status`` prints the latest runs of each batch with their
counts, read from the Dagster instance (``DAGSTER_HOME``). To run a batch by hand, launch
``interventions_job`` for a partition from the UI, or ``dagster asset materialize
--select interventions --partition <date>``: it runs exactly like a scheduled run.
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
    TARGET_JOBS,
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

COUNTS = ("processed", "skipped_missing_records", "skipped_duplicate", "failed")


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

    init = actions.add_parser("init", help=f"create the default schedule: {describe(DEFAULT_SCHEDULE)}")
    init.add_argument("--force", action="store_true", help="delete and recreate it")
    schedules.set_defaults(func=run_schedules)

    status = subparsers.add_parser("batch-status", help="latest runs of each batch with their counts")
    status.add_argument("--limit", type=int, default=10, help="runs per batch (default 10)")
    status.set_defaults(func=run_batch_status)


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
            print(f"added schedule {added.id} {added.name!r}: {describe(added)}")
        elif args.action == "update":
            fields = ("name", "frequency", "hour", "minute", "timezone", "target", "is_active")
            changes = {f: getattr(args, f) for f in fields if getattr(args, f) is not None}
            if not changes:
                raise ScheduleError("nothing to change: give at least one option (see --help)")
            updated = update_schedule(wh, args.ref, **changes)
            print(f"updated schedule {updated.id} {updated.name!r}: {describe(updated)}")
        elif args.action == "delete":
            deleted = delete_schedule(wh, args.ref)
            print(f"deleted schedule {deleted.id} {deleted.name!r}")
        elif args.action == "init":
            schedule, created = init_default_schedule(wh, force=args.force)
            verb = "created" if created else "kept the existing"
            print(f"{verb} default schedule {schedule.id} {schedule.name!r}: {describe(schedule)}")
    except ScheduleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def describe(schedule: Schedule) -> str:
    when = {"daily": "every day", "weekly": "every Sunday", "monthly": "on the 1st of every month"}
    state = "active" if schedule.is_active else "inactive"
    return (
        f"{when[schedule.frequency]} at {schedule.hour:02d}:{schedule.minute:02d} {schedule.timezone}, "
        f"target {schedule.target}, {state}"
    )


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
    from .common import dagster_instance  # the Dagster instance is only needed here

    instance = instance or dagster_instance()
    blocks = []
    for target, job_name in TARGET_JOBS.items():
        runs = latest_runs(instance, job_name, args.limit)
        blocks.append(f"{target} ({job_name}): " + ("no runs yet" if not runs else f"latest {len(runs)} runs"))
        if runs:
            header = ("run", "status", "partition", "trigger", "started (UTC)", *COUNTS)
            blocks.append(format_table([header, *[tuple(str(r[h]) for h in header) for r in runs]]))
    print("\n".join(blocks))
    return 0


def latest_runs(instance: Any, job_name: str, limit: int) -> list[dict[str, Any]]:
    """The latest runs of a job, newest first, with the batch counts each one reported."""
    import dagster as dg

    records = instance.get_run_records(filters=dg.RunsFilter(job_name=job_name), limit=limit)
    out = []
    for record in records:
        run = record.dagster_run
        started = record.start_time or record.create_timestamp.timestamp()
        counts = _reported_counts(instance, run.run_id)
        out.append(
            {
                "run": run.run_id[:8],
                "status": run.status.value,
                "partition": run.tags.get("dagster/partition", "-"),
                "trigger": run.tags.get("alt42/schedule", "manual"),
                "started (UTC)": dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%d %H:%M"),
                **{name: counts.get(name, "-") for name in COUNTS},
            }
        )
    return out


def _reported_counts(instance: Any, run_id: str) -> dict[str, Any]:
    """Counts from the run's materialization, or from its failure when every student failed."""
    from dagster import DagsterEventType

    kinds = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
        else:
            failure = event.step_failure_data.user_failure_data
            metadata = failure.metadata if failure else {}
        if "range_processed" in metadata:  # a run over several days: its totals, not one day's
            return {name: metadata[f"range_{name}"].value for name in COUNTS if f"range_{name}" in metadata}
        if "processed" in metadata:
            return {name: metadata[name].value for name in COUNTS if name in metadata}
    return {}
