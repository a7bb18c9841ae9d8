"""The student state machine: which state a student is in, since when, and why it changed.

Four states. Time without activity decides first: ``inactive`` after ``inactive_days``
(Moodle's "no recent accesses" default, 30), ``idle`` after ``idle_days`` (Open edX
Aspects' default, 7). A student who is still active is ``at_risk`` when the drop-out risk
model's calibrated probability reaches its alert threshold (``alt42_pipeline.risk``) or an
override rule fires; a student the model has not scored falls back to the scenario rules
that mark risk. Otherwise ``active``. Every state can follow every other (a returning
student jumps from ``inactive`` straight back to ``active``), so the machine is the
classification plus the bookkeeping of ``since`` and the reason of each change.

All functions work on whole arrays at once (one entry per student).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

ACTIVE = "active"
AT_RISK = "at_risk"
IDLE = "idle"
INACTIVE = "inactive"
STATES = (ACTIVE, AT_RISK, IDLE, INACTIVE)


@dataclass(frozen=True)
class Thresholds:
    idle_days: int = 7
    inactive_days: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.idle_days < self.inactive_days:
            raise ValueError(
                f"thresholds must satisfy 0 < idle_days < inactive_days, got {self.idle_days}, {self.inactive_days}"
            )


def classify(days_since_activity: np.ndarray, at_risk: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """The state of each student from days without activity and the at-risk flag."""
    days = np.asarray(days_since_activity, dtype=float)
    risk = np.asarray(at_risk, dtype=bool)
    return np.select(
        [days >= thresholds.inactive_days, days >= thresholds.idle_days, risk],
        [INACTIVE, IDLE, AT_RISK],
        default=ACTIVE,
    ).astype(object)


def entered_at(states: np.ndarray, last_activity_at: pd.Series, now: dt.datetime, thresholds: Thresholds) -> pd.Series:
    """When each student entered ``states`` if it is new: the threshold crossing for the
    time-based states (exact even when a heartbeat ran late), ``now`` for the others."""
    last = pd.to_datetime(pd.Series(last_activity_at).reset_index(drop=True))
    states = np.asarray(states, dtype=object)
    out = pd.Series(pd.Timestamp(now), index=last.index, dtype="datetime64[us]")
    idle = states == IDLE
    inactive = states == INACTIVE
    out[idle] = last[idle] + pd.Timedelta(days=thresholds.idle_days)
    out[inactive] = last[inactive] + pd.Timedelta(days=thresholds.inactive_days)
    return out


def changed(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """True where the state differs from the previous one (no previous state counts)."""
    prev = pd.Series(previous, dtype=object)
    return (prev.isna() | (prev.to_numpy() != np.asarray(current, dtype=object))).to_numpy()


def reason(
    previous: str | None,
    current: str,
    days_since_activity: float,
    scenarios: list[str],
    thresholds: Thresholds,
    probability: float = float("nan"),
) -> str:
    """Why a student moved from ``previous`` to ``current``, in words an operator reads."""
    days = int(days_since_activity) if np.isfinite(days_since_activity) else None
    if current == INACTIVE:
        text = f"no activity for {days} days (inactive after {thresholds.inactive_days})"
    elif current == IDLE:
        text = f"no activity for {days} days (idle after {thresholds.idle_days})"
    elif current == AT_RISK and np.isfinite(probability):
        text = f"drop-out risk {probability:.0%} at or above the alert threshold"
        if scenarios:
            text += "; scenarios: " + ", ".join(scenarios)
    elif current == AT_RISK:
        text = "at-risk scenarios fired: " + ", ".join(scenarios)
    elif previous in (IDLE, INACTIVE):
        text = "activity resumed"
    elif previous == AT_RISK and np.isfinite(probability):
        text = f"drop-out risk {probability:.0%} below the alert threshold"
    elif previous == AT_RISK:
        text = "no at-risk scenario fires any more"
    else:
        text = "active"
    return text if previous is not None else f"first seen: {text}"
