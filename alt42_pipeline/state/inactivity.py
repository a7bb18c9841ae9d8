"""Inactivity detection: students crossing an inactivity threshold, once per crossing.

A student with last activity ``L`` crosses threshold ``T`` days at ``L + T``. Between two
checks at ``since`` and ``until`` the students newly crossing are those with
``since - T < L <= until - T``: a range on the indexed ``last_activity_at`` of the state
cache, so the check is cheap at any number of students. Consecutive checks cover
contiguous windows, and the alert's key (student, threshold, last activity) makes a
repeated or retried check harmless: an alert is raised once per crossing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from ..clock import utcnow
from ..settings import StateSettings
from ..warehouse import Warehouse
from . import notify

ALERT_COLUMNS = ["user_id", "threshold_days", "last_activity_at", "detected_at"]
#: Alerts per webhook call.
ALERTS_PER_POST = 1_000


def thresholds(settings: StateSettings) -> list[int]:
    """The thresholds alerted on: the idle and the inactive days."""
    return [settings.idle_after_days, settings.inactive_after_days]


def _crossing(cache: sa.Table, days: int, since: dt.datetime, until: dt.datetime) -> sa.ColumnElement[bool]:
    span = dt.timedelta(days=days)
    return sa.and_(cache.c.last_activity_at > since - span, cache.c.last_activity_at <= until - span)


def count_crossings(wh: Warehouse, thresholds: Iterable[int], since: dt.datetime, until: dt.datetime) -> int:
    """How many (student, threshold) crossings happened in ``(since, until]`` (index range scans)."""
    cache = wh.table("student_state_cache")
    return sum(
        wh.scalar(sa.select(sa.func.count()).select_from(cache).where(_crossing(cache, days, since, until)))
        for days in thresholds
    )


def record_alerts(
    wh: Warehouse, thresholds: Iterable[int], since: dt.datetime, until: dt.datetime, detected_at: dt.datetime
) -> int:
    """Insert an alert for every crossing in ``(since, until]`` not alerted yet; return how many."""
    cache = wh.table("student_state_cache")
    alerts = wh.table("inactivity_alerts")
    inserted = 0
    with wh.transaction() as tx:
        for days in thresholds:
            already = sa.exists().where(
                alerts.c.user_id == cache.c.user_id,
                alerts.c.threshold_days == days,
                alerts.c.last_activity_at == cache.c.last_activity_at,
            )
            select = sa.select(
                cache.c.user_id,
                sa.literal(days, sa.Integer),
                cache.c.last_activity_at,
                sa.literal(detected_at, alerts.c.detected_at.type),
            ).where(_crossing(cache, days, since, until), ~already)
            inserted += tx.execute(sa.insert(alerts).from_select(ALERT_COLUMNS, select)).rowcount
    return inserted


def pending_alerts(wh: Warehouse) -> pd.DataFrame:
    """Alerts not yet delivered to the webhook (a failed delivery is retried next time)."""
    alerts = wh.table("inactivity_alerts")
    stmt = sa.select(*[alerts.c[c] for c in ALERT_COLUMNS]).where(alerts.c.notified_at.is_(None))
    return wh.read(stmt.order_by(alerts.c.detected_at, alerts.c.user_id))


def mark_notified(wh: Warehouse, delivered: pd.DataFrame, at: dt.datetime) -> None:
    alerts = wh.table("inactivity_alerts")
    keys = [
        {"u": int(r.user_id), "t": int(r.threshold_days), "l": pd.Timestamp(r.last_activity_at).to_pydatetime()}
        for r in delivered.itertuples(index=False)
    ]
    if not keys:
        return
    stmt = (
        sa.update(alerts)
        .where(
            alerts.c.user_id == sa.bindparam("u"),
            alerts.c.threshold_days == sa.bindparam("t"),
            alerts.c.last_activity_at == sa.bindparam("l"),
        )
        .values(notified_at=at)
    )
    wh.execute(stmt, keys)


def alert_payload(alerts: pd.DataFrame) -> dict:
    """The webhook body for a batch of alerts."""
    return {
        "kind": "inactivity",
        "count": int(len(alerts)),
        "alerts": [
            {
                "user_id": int(r.user_id),
                "threshold_days": int(r.threshold_days),
                "last_activity_at": pd.Timestamp(r.last_activity_at).isoformat(),
                "detected_at": pd.Timestamp(r.detected_at).isoformat(),
            }
            for r in alerts.itertuples(index=False)
        ],
    }


def deliver_pending(wh: Warehouse, webhook_url: str, batch_size: int = ALERTS_PER_POST) -> int:
    """Post every undelivered alert to the webhook, in batches, each marked once delivered.

    A delivery that still fails after its retries raises :class:`notify.NotificationError`;
    the alerts not yet delivered stay pending and go out with the next run. Returns how many
    were delivered."""
    pending = pending_alerts(wh)
    for start in range(0, len(pending), batch_size):
        batch = pending.iloc[start : start + batch_size]
        notify.post_json(webhook_url, alert_payload(batch))
        mark_notified(wh, batch, utcnow())
    return len(pending)
