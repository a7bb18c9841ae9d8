"""Pipeline health: is the heartbeat alive? One alert per incident, cleared on recovery.

Replaces the legacy watchdog's heartbeat file check: no successful heartbeat recorded for
``stale_after`` means the state is no longer being refreshed.
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
class Assessment:
    action: str  # ok | alert | still_stale | recovered
    message: str
    cursor: HealthCursor


def assess(
    last_success: dt.datetime | None, cursor: HealthCursor, now: dt.datetime, stale_after: dt.timedelta
) -> Assessment:
    """Decide what to do. Before any heartbeat is recorded, the clock starts when the
    check itself started watching, so a fresh deployment gets ``stale_after`` to come up."""
    reference = last_success or cursor.watching_since
    stale = now - reference >= stale_after
    minutes = int((now - reference).total_seconds() // 60)
    seen = (
        f"last successful heartbeat at {last_success:%Y-%m-%d %H:%M} UTC"
        if last_success
        else "no successful heartbeat recorded"
    )
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
