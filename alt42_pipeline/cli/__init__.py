"""The operator command line (``python -m alt42_pipeline``, installed as ``alt42``).

A thin shell like ``defs/``: each command loads the settings, calls a domain's public face
(or ``control``, shared with the HTTP API) and prints. ``batch`` holds the intervention
batch's commands; ``operate`` the heartbeat, the doctor and the API server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from .. import settings
    from ..demo.platform import DemoConfig
    from ..demo.run import run_demo, summary, ui_instructions

    cfg = DemoConfig(
        students=args.students,
        days=args.days,
        seed=args.seed,
        end_date=dt.date.fromisoformat(args.end_date) if args.end_date else None,
        real_world_share=args.real_world_share,
        moodle_version=args.moodle_version,
    )
    os.environ.setdefault("DAGSTER_HOME", os.path.abspath(".dagster_home"))
    write_demo_instance(Path(os.environ["DAGSTER_HOME"]))
    result = run_demo(cfg)
    print(summary(result, settings.load()))
    print(ui_instructions(settings.load()))
    return 0 if result.success else 1


#: The demo instance: Dagster's embedded default (SQLite storage in DAGSTER_HOME) with run
#: monitoring on, so that under ``dagster dev`` a run whose process was killed is marked
#: failed instead of staying STARTED for ever. The default run launcher cannot see a dead
#: worker, so a run is failed when it outlives its ``dagster/max_runtime`` tag (every
#: scheduled job sets one) or ``max_runtime_seconds``.
DEMO_INSTANCE = """\
# Written by `alt42 demo` (rewritten when it differs): the embedded default instance.
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_runtime_seconds: 21600
  poll_interval_seconds: 30
"""


def write_demo_instance(home: Path) -> Path:
    """Write the demo's ``dagster.yaml`` into ``home`` (kept when it already says the same;
    an older demo file without monitoring is replaced, a file of the operator's is kept)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    current = path.read_text() if path.exists() else None
    ours = (
        current is None
        or current.startswith("# Written by `alt42 demo`")
        or current == "telemetry:\n  enabled: false\n"
    )
    if ours and current != DEMO_INSTANCE:
        path.write_text(DEMO_INSTANCE)
    return path


def _migrate(args: argparse.Namespace) -> int:
    from .common import open_warehouse

    print(f"warehouse schema at revision {open_warehouse().migrate()}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from ..clock import utcnow
    from ..reports import status
    from .common import dagster_instance, find_dagster_home, open_warehouse

    now = utcnow()
    window = dt.timedelta(days=args.days)
    wh = open_warehouse()
    runs = None
    if find_dagster_home() is not None and not args.no_runs:
        runs = failed_runs(dagster_instance(), now - window)
    print(status.format_status(status.gather(wh, now, runs, window)))
    return 0


def failed_runs(instance, since: dt.datetime, limit: int = 10) -> list[dict]:
    """The latest failed runs of the Dagster instance created since ``since`` (naive UTC)."""
    import dagster as dg

    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], created_after=since.replace(tzinfo=dt.UTC)),
        limit=limit,
    )
    return [
        {
            "job": r.dagster_run.job_name,
            "run_id": r.dagster_run.run_id,
            "partition": r.dagster_run.tags.get("dagster/partition", ""),
            "at": dt.datetime.fromtimestamp(r.end_time or r.create_timestamp.timestamp(), dt.UTC).replace(tzinfo=None),
        }
        for r in records
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alt42", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate a demo platform and materialize every asset on it")
    demo.add_argument("--students", type=int, default=400)
    demo.add_argument("--days", type=int, default=28)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--end-date", help="last day with activity (default: yesterday, UTC)")
    demo.add_argument(
        "--real-world-share",
        type=float,
        default=0.01,
        help="share of source rows with real platforms' shapes: regrades, partial credit, previews, a teacher, "
        "bad rows, repeated ids (default 0.01; 0 writes clean sources)",
    )
    demo.add_argument("--moodle-version", type=int, choices=(3, 4), default=3, help="Moodle question-bank layout")
    demo.set_defaults(func=_demo)

    migrate = sub.add_parser("migrate", help="create or upgrade the warehouse tables")
    migrate.set_defaults(func=_migrate)

    status = sub.add_parser(
        "status", help="one screen: table freshness, last calibration, heartbeat, states, recent failures"
    )
    status.add_argument("--days", type=int, default=7, help="how far back recent failures are listed (default 7)")
    status.add_argument(
        "--no-runs", action="store_true", help="do not read failed runs from the Dagster instance (DAGSTER_HOME)"
    )
    status.set_defaults(func=_status)

    from .batch import add_commands as add_batch_commands
    from .operate import add_commands as add_operate_commands

    add_batch_commands(sub)
    add_operate_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command. A configuration or connection problem is one line on stderr naming the
    setting (passwords masked) and exit status 2; anything else is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema-migration chatter
    from .. import redaction

    redaction.install()  # the handlers basicConfig just made mask secrets too
    try:
        return args.func(args)
    except Exception as exc:
        message = configuration_problem(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def configuration_problem(exc: Exception) -> str | None:
    """The one-line message of a configuration or connection error, None for anything else."""
    import sqlalchemy as sa

    from ..settings import SettingsError
    from ..sources import SourceError
    from .common import ConfigurationError, first_line, masked

    if isinstance(exc, SettingsError | ConfigurationError | SourceError):
        return str(exc)
    if isinstance(exc, sa.exc.DBAPIError | sa.exc.ArgumentError | sa.exc.NoSuchModuleError):
        # reached through a URL other than the warehouse's (which open_warehouse names)
        return "database error (check ALT42_WAREHOUSE_URL, ALT42_ASSESSMENT_URL, ALT42_MOODLE_URL): " + masked(
            first_line(exc)
        )
    if type(exc).__name__ == "DagsterHomeNotSetError":
        return "DAGSTER_HOME is not set: set it to the folder of the Dagster instance"
    return None
