"""Pipeline health: is the heartbeat alive? One alert per incident, cleared on recovery.

Replaces the legacy watchdog's heartbeat file check: no successful heartbeat recorded for
``stale_after`` means the state is no longer being refreshed.

A dry-run heartbeat writes nothing to the warehouse; its trace is its result reported to the
Dagster instance (an observation of ``heartbeat_log``). When the heartbeat runs in dry-run
mode (``ALT42_HEARTBEAT_DRY_RUN``) those traces are the heartbeats the check goes by, so a
healthy dry-run deployment does not alert; otherwise only heartbeats that wrote count, so a
dry run by hand (``alt42 heartbeat --dry-run``, ``alt42 doctor``) never hides a heartbeat
that stopped.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from . import notify

OK, ALERT, STILL_STALE, RECOVERED = "ok", "alert", "still_stale", "recovered"


@dataclass(frozen=True)
class HealthCursor:
    """What the health check remembers between evaluations."""

    watching_since: dt.datetime
    incident_since: dt.datetime | None = None

    def dumps(self) -> str:
        return json.dumps(
            {
                "watching_since": self.watching_since.isoformat(),
                "incident_since": self.incident_since.isoformat() if self.incident_since else None,
            }
        )

    @classmethod
    def loads(cls, text: str | None, now: dt.datetime) -> HealthCursor:
        if not text:
            return cls(watching_since=now)
        data = json.loads(text)
        incident = data.get("incident_since")
        return cls(
            watching_since=dt.datetime.fromisoformat(data["watching_since"]),
            incident_since=dt.datetime.fromisoformat(incident) if incident else None,
        )


@dataclass(frozen=True)
class SignOfLife:
    """The latest successful heartbeat the check goes by, and whether it was a dry run."""

    at: dt.datetime
    dry_run: bool = False


def sign_of_life(written: dt.datetime | None, dry_run: dt.datetime | None, dry_run_mode: bool) -> SignOfLife | None:
    """The heartbeat that proves the pipeline alive: the latest written one, or in dry-run
    mode the latest of it and the latest dry run (see the module docstring)."""
    candidates = [SignOfLife(written)] if written else []
    if dry_run_mode and dry_run:
        candidates.append(SignOfLife(dry_run, dry_run=True))
    return max(candidates, key=lambda s: s.at, default=None)


def dry_run_at(result: dict) -> dt.datetime | None:
    """When a heartbeat's legacy JSON result (:meth:`HeartbeatSummary.legacy`) says a dry run
    succeeded (naive UTC), else None."""
    results = result.get("results") or {}
    if not (result.get("success") and results.get("dry_run") and result.get("timestamp")):
        return None
    return dt.datetime.fromisoformat(result["timestamp"]).astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Assessment:
    action: str  # ok | alert | still_stale | recovered
    message: str
    cursor: HealthCursor


def assess(
    last_success: dt.datetime | SignOfLife | None,
    cursor: HealthCursor,
    now: dt.datetime,
    stale_after: dt.timedelta,
    *,
    dry_run_mode: bool = False,
) -> Assessment:
    """Decide what to do. Before any heartbeat is recorded, the clock starts when the
    check itself started watching, so a fresh deployment gets ``stale_after`` to come up."""
    last = SignOfLife(last_success) if isinstance(last_success, dt.datetime) else last_success
    reference = last.at if last else cursor.watching_since
    stale = now - reference >= stale_after
    minutes = int((now - reference).total_seconds() // 60)
    kind = "dry-run heartbeat" if last and last.dry_run else "heartbeat"
    seen = (
        f"last successful {kind} at {last.at:%Y-%m-%d %H:%M} UTC"
        if last
        else "no successful " + ("heartbeat or dry run recorded" if dry_run_mode else "heartbeat recorded")
    )
    if dry_run_mode:
        seen += "; the heartbeat runs as a dry run (ALT42_HEARTBEAT_DRY_RUN)"
    if stale and cursor.incident_since is None:
        incident = HealthCursor(cursor.watching_since, now)
        return Assessment(ALERT, f"heartbeat stale for {minutes} min ({seen})", incident)
    if stale:
        return Assessment(STILL_STALE, f"heartbeat still stale for {minutes} min ({seen})", cursor)
    if cursor.incident_since is not None:
        cleared = HealthCursor(cursor.watching_since, None)
        return Assessment(
            RECOVERED, f"heartbeat recovered ({seen}); stale since {cursor.incident_since:%H:%M} UTC", cleared
        )
    return Assessment(OK, f"heartbeat healthy ({seen})", cursor)


def post_alert(verdict: Assessment, webhook_url: str) -> None:
    """Post an alert or a recovery to the webhook (3 tries, short timeout: the sensor must
    not hang); raises :class:`notify.NotificationError` when it cannot be delivered."""
    payload = {"kind": "pipeline_health", "status": verdict.action, "message": verdict.message}
    notify.post_json(webhook_url, payload, attempts=3, backoff_s=2.0, timeout_s=5.0)
