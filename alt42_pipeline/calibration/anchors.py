"""The anchor review queue (``anchor_review``): anchors a calibration found drifting are kept
out of the linking until someone reviews them.

Statuses: ``pending`` (flagged, kept out), ``reinstated`` (reviewed, used again; flagged again
it goes back to ``pending``), ``retired`` (reviewed, kept out for good). No Dagster here; the
command line (``alt42 anchors``) and the calibration call these functions.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..warehouse import Warehouse

STATUSES = ("pending", "reinstated", "retired")
KEPT_OUT = ("pending", "retired")


def review_queue(wh: Warehouse, status: str | None = None) -> pd.DataFrame:
    """Rows of ``anchor_review`` (all, or those with ``status``), newest flags first."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    rows = wh.read("anchor_review", {"status": status} if status else None)
    return rows.sort_values("flagged_at", ascending=False).reset_index(drop=True)


def kept_out(wh: Warehouse) -> list[str]:
    """Anchor item ids the linking must not use: pending or retired."""
    t = wh.table("anchor_review")
    rows = wh.read(sa.select(t.c.item_id).where(t.c.status.in_(KEPT_OUT)))
    return sorted(rows["item_id"].astype(str))


def queue_drifting(tx, drift: pd.DataFrame, calibration_id: str, at: dt.datetime) -> list[str]:
    """In the calibration's transaction ``tx``: queue the anchors ``drift`` marks as drifting
    (columns ``drifting``, ``delta_b``, ``z_b``, ``p_value``; item_id index) as ``pending``,
    unless they are already pending or retired. Returns the ids queued now."""
    if drift is None or drift.empty or not drift["drifting"].any():
        return []
    t = tx.table("anchor_review")
    flagged = drift[drift["drifting"]]
    ids = [str(i) for i in flagged.index]
    existing = {r.item_id: r.status for r in tx.execute(sa.select(t.c.item_id, t.c.status).where(t.c.item_id.in_(ids)))}
    queued = []
    for item_id, row in zip(ids, flagged.itertuples()):
        if existing.get(item_id) in KEPT_OUT:
            continue
        values = {
            "status": "pending",
            "calibration_id": calibration_id,
            "flagged_at": at,
            "delta_b": _num(row.delta_b),
            "z_b": _num(row.z_b),
            "p_value": _num(row.p_value),
            "reviewed_at": None,
            "reviewed_by": None,
            "note": None,
        }
        if item_id in existing:
            tx.execute(sa.update(t).where(t.c.item_id == item_id).values(**values))
        else:
            tx.execute(sa.insert(t).values(item_id=item_id, **values))
        queued.append(item_id)
    return queued


def review(wh: Warehouse, item_id: str, status: str, by: str, at: dt.datetime, note: str | None = None) -> dict:
    """Record a review of a queued anchor: ``reinstated`` or ``retired``. Raises
    ``ValueError`` for another status or an item not in the queue."""
    if status not in ("reinstated", "retired"):
        raise ValueError("a review reinstates or retires an anchor")
    t = wh.table("anchor_review")
    with wh.transaction() as tx:
        done = tx.execute(
            sa.update(t)
            .where(t.c.item_id == str(item_id))
            .values(status=status, reviewed_at=at, reviewed_by=by, note=(note or None) and note[:500])
        )
        if done.rowcount == 0:
            raise ValueError(f"anchor {item_id!r} is not in the review queue")
    return {"item_id": str(item_id), "status": status}


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None
