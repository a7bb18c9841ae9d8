"""The per-student-per-day table, the drop-out label and the features computed as of day t.

Everything the risk model sees comes from **one table**, one row per student and active
day (:data:`DAILY_COLUMNS`, aggregated from ``events`` by :func:`.queries.read_daily`), plus
the first day each student touched each topic (for topic coverage). Both are turned into
dense ``students x days`` matrices; every feature of day ``t`` is a function of the columns
``<= t`` only (cumulative sums over windows that end at ``t``), so no feature can read the
future: a test perturbs every row after ``t`` and checks the features at ``t`` do not move.

Label
    ``dropped(u, t)`` = the student has no activity on days ``t+1 .. t+H`` (H =
    ``horizon_days``, default 14). Only days whose horizon has fully passed
    (``t + H <= last_day``) are labelled.

Population
    The students the model scores on day ``t``: seen on or before ``t`` and active within
    the state machine's idle threshold (``days_since_activity < idle_days``); idle and
    inactive students are already flagged by time.

Features (all as of the end of day ``t``)
    activity gaps and trends (days since the last activity, active days in the last 7, 14
    and 28 days and the change week over week, longest gap of the last 28 days, mean gap),
    sessions (logins) and events per active day, answers and accuracy over the last 7 and
    28 days and accuracy's change week over week, time on task; and the decline against the
    student's **own baseline**: the last 7 days (``t-6 .. t``) against the previous 21
    (``t-27 .. t-7``, only the part since the student's first day) for active days, sessions,
    events, answers (per day, on a log scale) and accuracy, and the current gap against the
    student's usual spacing of active days in those 21 days. A student without a previous
    day gets the neutral 0 (no change); disengagement shows as a fall against one's own
    habit long before it shows as a low absolute level.

    Left out, and why: **ability** (the warehouse keeps only the current estimate,
    ``mirt_ability``, no daily snapshots, so using it for a past day would read the future);
    **first-attempt accuracy** (needs per-question history per day); and the cumulative
    features **topic coverage so far**, **tenure** and **idle spells so far** (the state
    history): they grow with the platform's age, so the days a nightly model trains on (at
    least ``2 H`` days before the newest test day) see other values than the days it scores,
    and on the demo they measured no better on held-out days (``benchmarks/risk_model.py``
    keeps the comparison). :func:`topic_coverage` still computes coverage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The per-student-per-day table: one row per student and day with any event.
DAILY_COLUMNS = ["user_id", "date", "events", "sessions", "answers", "correct", "answer_time_s"]
#: The first day each student answered in each topic.
TOPIC_COLUMNS = ["user_id", "topic_id", "first_date"]

FEATURES = (
    "days_since_activity",
    "active_days_7",
    "active_share_14",
    "active_share_28",
    "active_days_trend",
    "longest_gap_28",
    "mean_gap_28",
    "sessions_7",
    "sessions_per_active_day_7",
    "events_per_active_day_7",
    "events_trend",
    "answers_7",
    "answers_per_day_28",
    "accuracy_7",
    "accuracy_28",
    "accuracy_trend",
    "time_on_task_min_7",
    "active_share_vs_own_21",
    "sessions_vs_own_21",
    "events_vs_own_21",
    "answers_vs_own_21",
    "accuracy_vs_own_21",
    "gap_vs_own_usual",
)
#: How each feature reads in an explanation (the report's "top reasons").
FEATURE_TEXT = {
    "days_since_activity": "days since the last activity",
    "active_days_7": "active days in the last week",
    "active_share_14": "share of active days in the last two weeks",
    "active_share_28": "share of active days in the last four weeks",
    "active_days_trend": "change of active days week over week",
    "longest_gap_28": "longest gap of the last four weeks",
    "mean_gap_28": "mean gap between active days",
    "sessions_7": "sessions in the last week",
    "sessions_per_active_day_7": "sessions per active day",
    "events_per_active_day_7": "activity per active day",
    "events_trend": "change of activity week over week",
    "answers_7": "answers in the last week",
    "answers_per_day_28": "answers per day in the last four weeks",
    "accuracy_7": "accuracy in the last week",
    "accuracy_28": "accuracy in the last four weeks",
    "accuracy_trend": "change of accuracy week over week",
    "time_on_task_min_7": "time on task in the last week",
    "active_share_vs_own_21": "active days in the last week against the student's previous three weeks",
    "sessions_vs_own_21": "sessions in the last week against the student's previous three weeks",
    "events_vs_own_21": "activity in the last week against the student's previous three weeks",
    "answers_vs_own_21": "answers in the last week against the student's previous three weeks",
    "accuracy_vs_own_21": "accuracy in the last week against the student's previous three weeks",
    "gap_vs_own_usual": "the current gap against the student's usual gap",
}


@dataclass(frozen=True)
class Grid:
    """The daily table as dense matrices over ``users x days`` (day 0 = ``first_day``)."""

    users: np.ndarray  # int64 user ids, sorted
    first_day: dt.date
    events: np.ndarray  # float (users, days)
    sessions: np.ndarray
    answers: np.ndarray
    correct: np.ndarray
    answer_time_s: np.ndarray
    new_topics: np.ndarray  # topics first touched on that day

    @property
    def days(self) -> int:
        return self.events.shape[1]

    @property
    def active(self) -> np.ndarray:
        return self.events > 0

    def day(self, index: int) -> dt.date:
        return self.first_day + dt.timedelta(days=int(index))

    def index_of(self, day: dt.date) -> int:
        return (day - self.first_day).days


def build_grid(daily: pd.DataFrame, topics: pd.DataFrame, first_day: dt.date, last_day: dt.date) -> Grid:
    """Dense matrices from the daily table; rows outside ``[first_day, last_day]`` are ignored.

    Raises ``ValueError`` naming the columns when the table lacks some.
    """
    missing = [c for c in DAILY_COLUMNS if c not in daily.columns]
    if missing:
        raise ValueError(f"the daily table lacks columns {missing} (expected {DAILY_COLUMNS})")
    if last_day < first_day:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}")
    n_days = (last_day - first_day).days + 1
    dates = pd.to_datetime(daily["date"]).dt.date
    inside = (dates >= first_day) & (dates <= last_day)
    d = daily[inside.to_numpy()]
    users = np.unique(d["user_id"].to_numpy(dtype=np.int64))
    row = np.searchsorted(users, d["user_id"].to_numpy(dtype=np.int64))
    col = (pd.to_datetime(d["date"]) - pd.Timestamp(first_day)).dt.days.to_numpy()

    def matrix(values) -> np.ndarray:
        m = np.zeros((len(users), n_days))
        np.add.at(m, (row, col), np.nan_to_num(np.asarray(values, dtype=float)))
        return m

    new_topics = np.zeros((len(users), n_days))
    if len(topics) and len(users):
        t = topics[topics["user_id"].isin(users)]
        first = pd.to_datetime(t["first_date"])
        tcol = np.clip((first - pd.Timestamp(first_day)).dt.days.to_numpy(), 0, None)  # earlier: day 0
        keep = tcol < n_days
        np.add.at(new_topics, (np.searchsorted(users, t["user_id"].to_numpy(dtype=np.int64))[keep], tcol[keep]), 1.0)
    return Grid(
        users=users,
        first_day=first_day,
        events=matrix(d["events"]),
        sessions=matrix(d["sessions"]),
        answers=matrix(d["answers"]),
        correct=matrix(d["correct"]),
        answer_time_s=matrix(d["answer_time_s"]),
        new_topics=new_topics,
    )


def _window(m: np.ndarray, width: int, lag: int = 0) -> np.ndarray:
    """Sum of ``m`` over days ``t-lag-width+1 .. t-lag`` for every ``t`` (missing days count 0)."""
    c = np.concatenate([np.zeros((m.shape[0], 1)), np.cumsum(m, axis=1)], axis=1)
    t = np.arange(m.shape[1])
    hi = np.clip(t - lag + 1, 0, m.shape[1])
    lo = np.clip(t - lag - width + 1, 0, m.shape[1])
    return c[:, hi] - c[:, lo]


def _last_active(active: np.ndarray) -> np.ndarray:
    """Index of the last active day ``<= t`` (-1 before the first)."""
    idx = np.where(active, np.arange(active.shape[1])[None, :], -1)
    return np.maximum.accumulate(idx, axis=1)


def _first_active(active: np.ndarray) -> np.ndarray:
    first = np.where(active.any(axis=1), active.argmax(axis=1), active.shape[1])
    return first


def _gaps(active: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Longest run of inactive days and the mean gap between active days, over the last
    ``width`` days ending at ``t`` (days before the student's first activity excluded)."""
    n, days = active.shape
    first = _first_active(active)[:, None]
    t = np.arange(days)[None, :]
    # run of inactive days ending at each day
    run = np.zeros((n, days))
    current = np.zeros(n)
    for j in range(days):
        current = np.where(active[:, j], 0.0, current + 1.0)
        run[:, j] = current
    run = np.where(t >= first, run, 0.0)
    longest = np.zeros((n, days))
    for j in range(days):
        lo = max(0, j - width + 1)
        longest[:, j] = run[:, lo : j + 1].max(axis=1)
    span = np.minimum(t - first + 1, width).clip(min=1)
    act = _window(active.astype(float), width)
    mean_gap = (span - act) / np.maximum(act, 1.0)
    return longest, mean_gap


def feature_cube(grid: Grid, idle_days: int = 7) -> np.ndarray:
    """All features for every student and day: shape ``(users, days, len(FEATURES))``.

    Entry ``[:, t, :]`` depends on the grid's columns ``0 .. t`` only.
    """
    a = grid.active.astype(float)
    n, days = a.shape
    t = np.arange(days)[None, :]
    last = _last_active(grid.active)
    first = _first_active(grid.active)[:, None]
    since = np.where(last >= 0, t - last, np.nan)

    act7, act14, act28 = _window(a, 7), _window(a, 14), _window(a, 28)

    def span(width: int) -> np.ndarray:
        return np.clip(np.minimum(t - first + 1, width), 1, None)

    act_prev7 = _window(a, 7, lag=7)
    ev7, ev_prev7 = _window(grid.events, 7), _window(grid.events, 7, lag=7)
    ses7 = _window(grid.sessions, 7)
    ans7, ans28, ans_prev7 = _window(grid.answers, 7), _window(grid.answers, 28), _window(grid.answers, 7, lag=7)
    cor7, cor28, cor_prev7 = _window(grid.correct, 7), _window(grid.correct, 28), _window(grid.correct, 7, lag=7)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc7 = np.where(ans7 > 0, cor7 / ans7, np.nan)
        acc28 = np.where(ans28 > 0, cor28 / ans28, np.nan)
        acc_prev7 = np.where(ans_prev7 > 0, cor_prev7 / ans_prev7, np.nan)
    longest, mean_gap = _gaps(grid.active, 28)
    # the student's own baseline: days t-27 .. t-7, from the student's first day on
    base_span = np.clip((t - 7) - np.maximum(first, t - 27) + 1, 0, 21)
    has_base = base_span > 0
    base_days = np.maximum(base_span, 1)
    recent_days = np.clip(np.minimum(t - first + 1, 7), 1, None)

    def vs_own(m: np.ndarray) -> np.ndarray:
        """log(1 + per-day rate of the last 7 days) - log(1 + per-day rate of the baseline)."""
        return np.where(
            has_base, np.log1p(_window(m, 7) / recent_days) - np.log1p(_window(m, 21, lag=7) / base_days), 0.0
        )

    act_base = _window(a, 21, lag=7)
    ans_base, cor_base = _window(grid.answers, 21, lag=7), _window(grid.correct, 21, lag=7)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_base = np.where(ans_base > 0, cor_base / ans_base, np.nan)
    usual_spacing = base_days / np.maximum(act_base, 1.0)  # days per active day in the baseline
    cube = {
        "days_since_activity": since,
        "active_days_7": act7,
        # shares over the part of the window since the student's first day (new students
        # are not penalised for days before they started)
        "active_share_14": act14 / span(14),
        "active_share_28": act28 / span(28),
        "active_days_trend": act7 - act_prev7,
        "longest_gap_28": longest,
        "mean_gap_28": mean_gap,
        "sessions_7": ses7,
        "sessions_per_active_day_7": ses7 / np.maximum(act7, 1.0),
        "events_per_active_day_7": ev7 / np.maximum(act7, 1.0),
        "events_trend": np.log1p(ev7) - np.log1p(ev_prev7),
        "answers_7": ans7,
        "answers_per_day_28": ans28 / span(28),
        # a window without answers: the neutral 0.5 (the model also sees answers_7 = 0)
        "accuracy_7": np.nan_to_num(acc7, nan=0.5),
        "accuracy_28": np.nan_to_num(acc28, nan=0.5),
        "accuracy_trend": np.nan_to_num(acc7 - acc_prev7, nan=0.0),
        "time_on_task_min_7": _window(grid.answer_time_s, 7) / 60.0,
        "active_share_vs_own_21": np.where(has_base, act7 / recent_days - act_base / base_days, 0.0),
        "sessions_vs_own_21": vs_own(grid.sessions),
        "events_vs_own_21": vs_own(grid.events),
        "answers_vs_own_21": vs_own(grid.answers),
        "accuracy_vs_own_21": np.nan_to_num(acc7 - acc_base, nan=0.0),
        "gap_vs_own_usual": np.where(has_base & (last >= 0), np.nan_to_num(since) / usual_spacing, 0.0),
    }
    return np.stack([cube[name] for name in FEATURES], axis=2)


def topic_coverage(grid: Grid) -> np.ndarray:
    """``(users, days)``: topics the student has answered in up to each day."""
    return np.cumsum(grid.new_topics, axis=1)


def population(grid: Grid, idle_days: int = 7) -> np.ndarray:
    """``(users, days)``: seen by ``t`` and active within ``idle_days`` (what the model scores)."""
    last = _last_active(grid.active)
    since = np.arange(grid.days)[None, :] - last
    return (last >= 0) & (since < idle_days)


def silent_after(grid: Grid, horizon_days: int) -> np.ndarray:
    """``(users, days)`` float: 1 = no activity on ``t+1 .. t+H``, 0 = some, NaN = not known yet
    (the horizon runs past the last day and no activity was seen in the part that passed)."""
    a = grid.active.astype(float)
    n, days = a.shape
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(a, axis=1)], axis=1)
    t = np.arange(days)
    hi = np.minimum(t + horizon_days, days - 1) + 1
    seen = c[:, hi] - c[:, t + 1]
    complete = (t + horizon_days) <= days - 1
    return np.where(seen > 0, 0.0, np.where(complete[None, :], 1.0, np.nan))


def labels(grid: Grid, horizon_days: int = 14) -> np.ndarray:
    """``dropped(u, t)``: 1.0 when no activity in the next ``horizon_days`` days, 0.0 when some,
    NaN for days whose horizon has not fully passed (those are never labelled, even when
    activity already shows they are 0: the label set is the days with a complete horizon)."""
    s = silent_after(grid, horizon_days)
    complete = (np.arange(grid.days) + horizon_days) <= grid.days - 1
    return np.where(complete[None, :], s, np.nan)


def leaves_within(grid: Grid, horizon_days: int = 14, idle_days: int = 7) -> np.ndarray:
    """The model's training target: ``(users, days)`` float, 1 when a drop-out starts (the last
    activity, then ``H`` silent days) on a day in ``[t - idle_days + 1, t + H]``, 0 when none
    does, NaN when not known yet (the window runs past the last day, or a start in it is not
    confirmed yet). That window is the one an alert on day ``t`` is judged by
    (:func:`.model.alert_metrics`): the label ``dropped(u, t)`` is 1 only from the last
    activity on, so a model trained on it learns "already gone" and calls a student still
    active, however fast their decline, a stay; this target makes the days before the last
    activity of a leaver the positives an early alert needs."""
    a = grid.active
    n, days = a.shape
    starts = np.where(a, silent_after(grid, horizon_days), 0.0)
    c1 = np.concatenate([np.zeros((n, 1)), np.cumsum(starts == 1.0, axis=1)], axis=1)
    cu = np.concatenate([np.zeros((n, 1)), np.cumsum(np.isnan(starts), axis=1)], axis=1)
    t = np.arange(days)
    lo, hi = np.clip(t - idle_days + 1, 0, days), np.clip(t + horizon_days + 1, 0, days)
    found = (c1[:, hi] - c1[:, lo]) > 0
    unknown = ((cu[:, hi] - cu[:, lo]) > 0) | (t + horizon_days > days - 1)[None, :]
    return np.where(found, 1.0, np.where(unknown, np.nan, 0.0))


def frame_at(grid: Grid, cube: np.ndarray, day: int, mask: np.ndarray | None = None) -> pd.DataFrame:
    """The features of day index ``day`` as a frame indexed by user id (rows in ``mask``)."""
    rows = np.arange(len(grid.users)) if mask is None else np.flatnonzero(mask)
    out = pd.DataFrame(cube[rows, day, :], columns=list(FEATURES), index=pd.Index(grid.users[rows], name="user_id"))
    return out
