"""The intervention batch, operated through the Dagster instance.

* :func:`launch_batch` runs ``interventions_job`` for one day by hand: through the Dagster
  webserver's GraphQL API (:class:`GraphQLLauncher`, the official client), unless a run for
  that day is already queued or running, which is then returned instead of a duplicate.
* :func:`batch_status`: the latest runs of each schedule (and the manual ones) with their
  status and counts, from the instance (run status, the counts the run reported) and the
  warehouse (the rows each run left).
* :func:`sync`: what ``db_schedule_sensor`` will do with each schedule (next due time and
  day, by the sensor's own rule and cursor) and whether it is running.

The command line (``batch-run``, ``batch-status``) and the HTTP API call these same functions.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import dagster as dg

from ..clock import now
from ..interventions import TARGET_JOBS, Outlook, Schedule, list_schedules, outlook, rows_by_run
from ..warehouse import Warehouse
from .instance import daemon_statuses

JOB = TARGET_JOBS["interventions"]
SENSOR = "db_schedule_sensor"
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
#: Who asked for a run launched by hand (``api`` or ``cli``).
LAUNCHED_BY_TAG = "alt42/launched_by"
#: A run in one of these states still has its day ahead of it: a second launch would duplicate it.
ACTIVE = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)
#: The counts the batch reports in its metadata (``interventions`` asset).
COUNTS = ("processed", "skipped_missing_records", "skipped_duplicate", "failed")
#: How many of the job's latest runs are searched for manual runs.
MANUAL_SEARCH = 200

# One launch at a time in this process: the check for a run of the day and the launch are one step.
_LAUNCH_LOCK = threading.Lock()


def _schedule_tags() -> tuple[str, str]:
    from ..defs.interventions import SCHEDULE_ID_TAG, SCHEDULE_TAG

    return SCHEDULE_TAG, SCHEDULE_ID_TAG


# -- launching a day's batch ---------------------------------------------------------------------


class BatchDayError(ValueError):
    """A day the batch cannot be run for; the message says why."""


class LaunchError(RuntimeError):
    """The Dagster webserver did not launch the run; ``unreachable``: it did not answer at all."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Launcher(Protocol):
    def submit(self, job_name: str, tags: dict[str, str]) -> str:
        """Launch a run of ``job_name`` with ``tags``; its run id."""


class GraphQLLauncher:
    """Launches runs through the Dagster webserver's GraphQL API (``ALT42_DAGSTER_URL``) with
    Dagster's official GraphQL client; the code location is found by the job's name."""

    def __init__(self, url: str, timeout_s: int = 30) -> None:
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(url)
        self.url = url
        self._client = DagsterGraphQLClient(
            parts.hostname,
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=timeout_s,
            path_prefix=parts.path.rstrip("/"),
        )

    def submit(self, job_name: str, tags: dict[str, str]) -> str:
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return self._client.submit_job_execution(job_name, tags=tags)
        except DagsterGraphQLClientError as exc:
            transport = _transport_failure(exc)
            if transport is not None:
                raise LaunchError(
                    f"the Dagster webserver at {self.url} (ALT42_DAGSTER_URL) did not answer ({transport})",
                    unreachable=True,
                ) from None
            # the client's own message repeats the whole query: keep its first line
            reason = next((str(a).strip().splitlines()[0] for a in exc.args if str(a).strip()), type(exc).__name__)
            raise LaunchError(f"the Dagster webserver did not launch {job_name}: {reason}") from None


def _transport_failure(exc: BaseException) -> str | None:
    """The name of the innermost transport error under ``exc`` (no answer, or not from a
    working webserver), or None when the webserver answered."""
    import requests
    from gql.transport.exceptions import TransportConnectionFailed, TransportServerError

    found = None
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, requests.RequestException | TransportConnectionFailed | TransportServerError):
            found = type(exc).__name__
        exc = exc.__cause__ or exc.__context__
    return found


@dataclass(frozen=True)
class Launch:
    """The run of a day's batch: the one launched now, or the one already queued or running."""

    run_id: str
    date: dt.date
    status: str
    launched: bool
    job: str = JOB

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "date": self.date.isoformat()}


def batch_day(value: dt.date | None, first_day: dt.date) -> dt.date:
    """The day a manual batch looks at: ``value``, by default yesterday (UTC) as the legacy
    batch did; a day that has not ended or precedes the partitions is refused."""
    yesterday = now().date() - dt.timedelta(days=1)
    day = yesterday if value is None else value
    if day > yesterday:
        raise BatchDayError(f"{day} has not ended yet: the batch looks at a finished day (at most {yesterday})")
    if day < first_day:
        raise BatchDayError(f"{day} is before the first partition, {first_day} (ALT42_PARTITIONS_START)")
    return day


def launch_batch(day: dt.date, *, instance: dg.DagsterInstance, launcher: Launcher, launched_by: str) -> Launch:
    """Launch ``interventions_job`` for ``day``, or return the run of that day that is already
    queued or running (launched by hand, by a schedule or by a backfill)."""
    with _LAUNCH_LOCK:
        running = active_run_for(instance, day)
        if running is not None:
            return Launch(running.run_id, day, running.status.value, launched=False)
        run_id = launcher.submit(JOB, {PARTITION_TAG: day.isoformat(), LAUNCHED_BY_TAG: launched_by})
    run = instance.get_run_by_id(run_id)
    # not in this instance: DAGSTER_HOME and ALT42_DAGSTER_URL name two different instances
    return Launch(run_id, day, run.status.value if run else "UNKNOWN", launched=True)


def active_run_for(instance: dg.DagsterInstance, day: dt.date) -> dg.DagsterRun | None:
    """The newest queued or running batch run whose partition (or backfill range) holds ``day``."""
    records = instance.get_run_records(filters=dg.RunsFilter(job_name=JOB, statuses=list(ACTIVE)))
    for record in records:
        if _covers(record.dagster_run.tags, day):
            return record.dagster_run
    return None


def _covers(tags: dict[str, str], day: dt.date) -> bool:
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG] == day.isoformat()
    start, end = (tags.get(tag) for tag in RANGE_TAGS)
    return bool(start and end) and start <= day.isoformat() <= end


# -- the latest runs of each schedule ------------------------------------------------------------


@dataclass(frozen=True)
class BatchRun:
    """One run of the batch: its status, the counts it reported and the rows it left."""

    run_id: str
    status: str
    partition: str
    trigger: str  # the schedule's name, or "manual"
    launched_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    #: processed, skipped (missing records + duplicates), and the detail; None: not reported
    counts: dict[str, int | None]
    #: interventions and errors the run wrote to the warehouse
    written: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("created_at", "started_at", "ended_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


@dataclass(frozen=True)
class BatchGroup:
    """The runs of one schedule (``schedule`` None: runs launched by hand or from the UI)."""

    label: str
    schedule: Schedule | None
    runs: list[BatchRun] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "schedule": schedule_dict(self.schedule) if self.schedule else None,
            "runs": [run.as_dict() for run in self.runs],
        }


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    """A schedule as plain JSON values (times ISO 8601, UTC)."""
    out = asdict(schedule)
    for key in ("created_at", "updated_at"):
        out[key] = out[key].replace(tzinfo=dt.UTC).isoformat() if out[key] else None
    out["description"] = schedule.describe()
    return out


def batch_status(instance: dg.DagsterInstance, wh: Warehouse, limit: int = 10) -> list[BatchGroup]:
    """The latest ``limit`` runs of every schedule, then of the runs launched by hand, newest
    first; runs of schedules deleted since (among the job's latest runs) come last."""
    schedule_tag, id_tag = _schedule_tags()
    groups = []
    schedules = list_schedules(wh)
    for schedule in schedules:
        by_id = _records(instance, dg.RunsFilter(job_name=JOB, tags={id_tag: str(schedule.id)}), limit)
        by_name = _records(instance, dg.RunsFilter(job_name=JOB, tags={schedule_tag: schedule.name}), limit)
        records = {r.dagster_run.run_id: r for r in by_id + by_name}.values()
        newest = sorted(records, key=lambda r: r.create_timestamp, reverse=True)[:limit]
        groups.append(BatchGroup(f"schedule {schedule.name}", schedule, newest))
    latest = _records(instance, dg.RunsFilter(job_name=JOB), MANUAL_SEARCH)
    groups.append(BatchGroup("manual", None, [r for r in latest if schedule_tag not in r.dagster_run.tags][:limit]))
    current = {s.name for s in schedules} | {str(s.id) for s in schedules}
    deleted: dict[str, list] = {}
    for r in latest:
        tags = r.dagster_run.tags
        if schedule_tag in tags and not ({tags[schedule_tag], tags.get(id_tag)} & current):
            deleted.setdefault(tags[schedule_tag], []).append(r)
    groups += [BatchGroup(f"schedule {name} (deleted)", None, runs[:limit]) for name, runs in deleted.items()]
    run_ids = [r.dagster_run.run_id for g in groups for r in g.runs]
    written = rows_by_run(wh, run_ids)
    return [
        BatchGroup(g.label, g.schedule, [_batch_run(instance, r, written, schedule_tag) for r in g.runs])
        for g in groups
    ]


def _records(instance: dg.DagsterInstance, filters: dg.RunsFilter, limit: int) -> list:
    return list(instance.get_run_records(filters=filters, limit=limit))


def _batch_run(instance: dg.DagsterInstance, record: Any, written: dict, schedule_tag: str) -> BatchRun:
    run = record.dagster_run
    tags = run.tags
    start, end = (tags.get(tag) for tag in RANGE_TAGS)
    reported = reported_counts(instance, run.run_id)
    counts: dict[str, int | None] = {name: reported.get(name) for name in COUNTS}
    skipped = [counts["skipped_missing_records"], counts["skipped_duplicate"]]
    counts["skipped"] = None if None in skipped else sum(skipped)
    return BatchRun(
        run_id=run.run_id,
        status=run.status.value,
        partition=tags.get(PARTITION_TAG) or (f"{start}...{end}" if start else "-"),
        trigger=tags.get(schedule_tag, "manual"),
        launched_by=tags.get(LAUNCHED_BY_TAG),
        created_at=record.create_timestamp.astimezone(dt.UTC),
        started_at=_utc(record.start_time),
        ended_at=_utc(record.end_time),
        counts=counts,
        written=written.get(run.run_id, {"interventions": 0, "errors": 0}),
    )


def _utc(timestamp: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp else None


def reported_counts(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Counts from the run's materialization, or from its failure when every student failed."""
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
        else:
            failure = event.step_failure_data.user_failure_data
            metadata = failure.metadata if failure else {}
        if "range_processed" in metadata:  # a run over several days: its totals, not one day's
            return {name: metadata[f"range_{name}"].value for name in COUNTS if f"range_{name}" in metadata}
        if "processed" in metadata:
            return {name: metadata[name].value for name in COUNTS if name in metadata}
    return {}


# -- sync: what the sensor will do -------------------------------------------------------------


@dataclass(frozen=True)
class SensorView:
    """``db_schedule_sensor`` as the instance sees it."""

    name: str
    status: str  # RUNNING or STOPPED (the one in effect: stored, else the default in code)
    status_from_code: bool  # nobody turned it on or off: its default in code applies
    daemon_fresh: bool
    daemon_last_heartbeat: dt.datetime | None
    last_tick_at: dt.datetime | None
    last_tick_status: str | None
    last_tick_message: str | None
    cursor: dict[str, str]

    @property
    def running(self) -> bool:
        return self.status == "RUNNING" and self.daemon_fresh

    @property
    def message(self) -> str:
        if self.status != "RUNNING":
            return (
                f"{self.name} is stopped: no schedule is launched; start it in the UI (Automation) "
                f"or with `dagster sensor start {self.name}`"
            )
        if not self.daemon_fresh:
            return f"{self.name} is on but the Dagster daemon is not running (`dagster-daemon run`): nothing ticks"
        tick = f"; last tick {self.last_tick_at:%Y-%m-%d %H:%M:%S} UTC" if self.last_tick_at else "; no tick yet"
        return f"{self.name} is running{tick}"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("daemon_last_heartbeat", "last_tick_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out | {"running": self.running, "message": self.message}


def sensor_view(instance: dg.DagsterInstance) -> SensorView:
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    from ..defs.interventions import db_schedule_sensor

    states = [
        s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if s.instigator_name == SENSOR
    ]
    ticks = {s.selector_id: instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=1) for s in states}
    # the state of the code location that ticked last (an old location name can leave a state behind)
    state = max(states, key=lambda s: ticks[s.selector_id][0].timestamp if ticks[s.selector_id] else 0, default=None)
    stored = state.status if state is not None else None
    from_code = stored in (None, InstigatorStatus.DECLARED_IN_CODE)
    if from_code:
        status = "RUNNING" if db_schedule_sensor.default_status == dg.DefaultSensorStatus.RUNNING else "STOPPED"
    else:
        status = "RUNNING" if stored == InstigatorStatus.RUNNING else "STOPPED"
    tick = ticks[state.selector_id][0] if state is not None and ticks[state.selector_id] else None
    data = state.instigator_data if state is not None else None
    cursor = json.loads(data.cursor) if data is not None and getattr(data, "cursor", None) else {}
    daemon = next((d for d in daemon_statuses(instance) if d.daemon_type == "SENSOR"), None)
    return SensorView(
        name=SENSOR,
        status=status,
        status_from_code=from_code,
        daemon_fresh=bool(daemon and daemon.fresh),
        daemon_last_heartbeat=daemon.last_heartbeat if daemon else None,
        last_tick_at=_utc(tick.timestamp) if tick else None,
        last_tick_status=tick.status.value if tick else None,
        last_tick_message=_tick_message(tick) if tick else None,
        cursor=cursor,
    )


def _tick_message(tick: Any) -> str | None:
    if tick.error is not None:
        return str(tick.error.message).strip().splitlines()[0]
    return tick.skip_reason or (f"{len(tick.run_ids)} run(s) launched" if tick.run_ids else None)


@dataclass(frozen=True)
class Sync:
    """What the sensor will do with each schedule, and whether it runs at all."""

    checked_at: dt.datetime
    sensor: SensorView
    schedules: list[Outlook]

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "sensor": self.sensor.as_dict(),
            "schedules": [_outlook_dict(o) for o in self.schedules],
        }


def _outlook_dict(view: Outlook) -> dict[str, Any]:
    return {
        "schedule": schedule_dict(view.schedule),
        "next_due_at": view.next_due.isoformat() if view.next_due else None,
        "partition": view.partition.isoformat() if view.partition else None,
        "pending": view.pending,
        "last_fired_at": view.last_fired.isoformat() if view.last_fired else None,
        "skipped_because": view.problem,
    }


def sync(instance: dg.DagsterInstance, wh: Warehouse) -> Sync:
    """The schedules as the sensor reads them at its next tick, with its own cursor."""
    sensor = sensor_view(instance)
    at = now()
    return Sync(at, sensor, outlook(list_schedules(wh), at, sensor.cursor))
