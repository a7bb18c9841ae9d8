"""Commands that replace the legacy surfaces people call: ``heartbeat`` (the heartbeat's JSON,
outside Dagster), ``doctor`` (the legacy ``test_heartbeat.php``) and ``api`` (the batch
management HTTP API)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from .. import settings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``heartbeat``, ``doctor`` and ``api`` on a parent parser's subparsers."""
    beat = subparsers.add_parser(
        "heartbeat", help="run one heartbeat now, outside Dagster, and print its JSON result (the legacy shape)"
    )
    beat.add_argument(
        "--dry-run",
        action="store_true",
        help="compute everything, write nothing (always so under ALT42_HEARTBEAT_DRY_RUN)",
    )
    beat.set_defaults(func=run_heartbeat_command)

    doctor = subparsers.add_parser(
        "doctor", help="check the warehouse, rules, sources, Dagster, the IRT service, then a dry-run heartbeat"
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(func=run_doctor_command)

    api = subparsers.add_parser("api", help="serve the batch management HTTP API (docs at /api/docs)")
    api.add_argument("--host", help="address to listen on (default ALT42_API_HOST)")
    api.add_argument("--port", type=int, help="port (default ALT42_API_PORT)")
    api.set_defaults(func=run_api_command)


def _dagster_instance():
    """The instance of DAGSTER_HOME, else of the demo's .dagster_home here (InstanceUnavailable)."""
    from ..control import open_instance
    from .common import find_dagster_home

    return open_instance(find_dagster_home())


def run_heartbeat_command(args: argparse.Namespace) -> int:
    """Print the heartbeat's JSON result, also when it fails (``success: false``); exit 0/1."""
    from ..clock import utcnow
    from ..control import InstanceUnavailable
    from ..control.heartbeat import run_once
    from ..state import HeartbeatFailed, HeartbeatSummary
    from .common import open_warehouse

    instance = None
    dry_run = args.dry_run
    try:
        s = settings.load()
        dry_run = dry_run or s.state.heartbeat_dry_run  # a deployment in dry-run mode writes nothing
        try:
            instance = _dagster_instance()
        except InstanceUnavailable as exc:
            if dry_run:
                print(f"note: this dry run leaves no trace for pipeline_health_sensor: {exc}", file=sys.stderr)
        summary = run_once(s, open_warehouse(s), dry_run=dry_run, instance=instance)
    except HeartbeatFailed as exc:
        summary = exc.summary
    except Exception as exc:  # settings, the rule file: the heartbeat could not start
        summary = HeartbeatSummary(uuid.uuid4().hex, success=False, timestamp=utcnow(), dry_run=dry_run)
        summary.error_details = [{"user_id": None, "error": f"{type(exc).__name__}: {exc}"}]
        summary.errors = 1
    print(json.dumps(summary.legacy(), indent=4))
    return 0 if summary.success else 1


def run_doctor_command(args: argparse.Namespace) -> int:
    from ..control.doctor import FAIL, Check, Report, run_doctor

    try:
        report = run_doctor(settings.load(), open_dagster=_dagster_instance)
    except settings.SettingsError as exc:
        report = Report([Check("settings", FAIL, str(exc))])
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


def run_api_command(args: argparse.Namespace) -> int:
    from ..api import ApiNotConfigured, serve

    try:
        serve(settings.load(), host=args.host, port=args.port)
    except ApiNotConfigured as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
