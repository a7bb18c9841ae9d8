"""The Dagster instance as operators' tools see it: opened with a clear error, and its daemon."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ..clock import now

#: The daemon writes a heartbeat about every 30 seconds; older than this, it is not running.
DAEMON_STALE_AFTER = dt.timedelta(minutes=5)


class InstanceUnavailable(RuntimeError):
    """The Dagster instance cannot be opened; the message says what to set."""


def open_instance(home: Path | None = None) -> dg.DagsterInstance:
    """The instance in the folder ``home`` (default: ``DAGSTER_HOME``), or
    :class:`InstanceUnavailable` in one sentence."""
    from dagster._core.errors import DagsterHomeNotSetError

    try:
        return dg.DagsterInstance.from_config(str(home)) if home is not None else dg.DagsterInstance.get()
    except DagsterHomeNotSetError:
        raise InstanceUnavailable(
            "DAGSTER_HOME is not set: point it at the Dagster instance's folder "
            "(the one holding dagster.yaml), e.g. DAGSTER_HOME=.dagster_home after `make demo`"
        ) from None
    except Exception as exc:  # a missing folder, a dagster.yaml that does not load, storage down
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InstanceUnavailable(
            f"cannot open the Dagster instance (DAGSTER_HOME): {type(exc).__name__}: {first}"
        ) from exc


@dataclass(frozen=True)
class DaemonStatus:
    """One daemon the instance needs (sensors, schedules, the run queue, ...) and its heartbeat."""

    daemon_type: str
    last_heartbeat: dt.datetime | None  # aware UTC
    fresh: bool
    errors: tuple[str, ...] = ()

    def describe(self, at: dt.datetime) -> str:
        if self.last_heartbeat is None:
            return f"{self.daemon_type}: no heartbeat ever"
        age = int((at - self.last_heartbeat).total_seconds())
        return f"{self.daemon_type}: last heartbeat {age} s ago"


def daemon_statuses(instance: dg.DagsterInstance, stale_after: dt.timedelta = DAEMON_STALE_AFTER) -> list[DaemonStatus]:
    """Every daemon the instance requires, with whether its latest heartbeat is fresh."""
    heartbeats = instance.get_daemon_heartbeats()
    at = now()
    out = []
    for daemon_type in instance.get_required_daemon_types():
        beat = heartbeats.get(daemon_type)
        if beat is None:
            out.append(DaemonStatus(daemon_type, None, False))
            continue
        last = dt.datetime.fromtimestamp(beat.timestamp, dt.UTC)
        errors = tuple(str(e.message).strip().splitlines()[0] for e in beat.errors or () if e.message)
        out.append(DaemonStatus(daemon_type, last, at - last <= stale_after, errors))
    return out
