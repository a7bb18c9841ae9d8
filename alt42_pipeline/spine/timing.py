"""Time on task from an event stream: the gap to the previous event, capped."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: A gap longer than this between two events of a student counts as this much.
GAP_CAP_S = 30 * 60


def capped_gaps(events: pd.DataFrame, cap_s: float = GAP_CAP_S) -> np.ndarray:
    """Seconds each event adds to its student's time on task, aligned with ``events``.

    ``events`` must be sorted by (user_id, occurred_at, event_id): ties in time are then
    broken the same way on every run, so re-runs give identical results. An event adds the time since the
    same student's previous event, capped at ``cap_s``; a student's first event adds 0.
    """
    if events.empty:
        return np.zeros(0)
    t = events["occurred_at"].to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
    user = events["user_id"].to_numpy()
    gap = np.diff(t, prepend=t[0])
    same = np.r_[False, user[1:] == user[:-1]]
    return np.where(same, np.minimum(gap, cap_s), 0.0)
