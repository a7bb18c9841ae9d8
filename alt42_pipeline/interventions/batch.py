"""The intervention batch for one day: who qualifies, what to recommend, what went wrong.

Everything the batch needs is read in a handful of set-based queries (:func:`load_inputs`),
students are classified with array operations (:func:`plan`), and the recommender sees
each eligible student once. A student whose recommendation fails is recorded in
``intervention_errors`` and the batch goes on. Interventions are written in one
transaction; students that already have one for the day are skipped, so a re-run never
duplicates.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..warehouse import Warehouse, utcnow
from .recommender import Recommendation, Recommender, StudentInputs
from .required_records import VerbGroup, flag_column, users_with_required_records

ATTEMPT_VERB = "answered"
#: Weak topics: the last two weeks of topic features, at least this many attempts and less
#: than this accuracy, weakest first, at most this many per student.
WEAK_WINDOW_DAYS = 14
WEAK_MIN_ATTEMPTS = 3
WEAK_MAX_ACCURACY = 0.6
WEAK_TOP = 3
MESSAGE_MAX = 2000


@dataclass
class BatchInputs:
    """What the warehouse knows that matters for the batch of ``date``."""

    date: dt.date
    day: pd.DataFrame  # per student active that day: attempts, correct, activity_events, time_on_task_s, required_<i>
    state: pd.DataFrame  # user_id, state, recent_accuracy, recent_attempts, active_scenarios, theta, theta_se
    kpis: pd.DataFrame  # user_id, kpis
    weak_topics: pd.DataFrame  # user_id, topic_id, attempts, accuracy
    ability: pd.DataFrame  # user_id, theta, se
    existing: np.ndarray  # user ids with an intervention for the date


@dataclass
class Plan:
    students: int
    eligible: np.ndarray
    missing_records: np.ndarray
    duplicates: np.ndarray


@dataclass
class BatchReport:
    date: dt.date
    students: int
    processed: int
    skipped_missing_records: int
    skipped_duplicate: int
    failed: int
    recommendations: dict[str, int] = field(default_factory=dict)
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage

    @property
    def counts(self) -> dict[str, int]:
        return {
            "students": self.students,
            "processed": self.processed,
            "skipped_missing_records": self.skipped_missing_records,
            "skipped_duplicate": self.skipped_duplicate,
            "failed": self.failed,
        }


def load_inputs(wh: Warehouse, date: dt.date, groups: tuple[VerbGroup, ...]) -> BatchInputs:
    s = wh.schema
    ev = s.events
    is_attempt = ev.c.verb == ATTEMPT_VERB
    day = wh.read(
        sa.select(
            ev.c.user_id,
            sa.func.sum(sa.case((is_attempt, 1), else_=0)).label("attempts"),
            sa.func.sum(sa.case((sa.and_(is_attempt, ev.c.success == sa.true()), 1), else_=0)).label("correct"),
            sa.func.sum(sa.case((is_attempt, 0), else_=1)).label("activity_events"),
            sa.func.sum(sa.func.coalesce(ev.c.duration_s, 0.0)).label("time_on_task_s"),
            *[group.present(ev.c.verb).label(flag_column(i)) for i, group in enumerate(groups)],
        )
        .where(ev.c.event_date == date)
        .group_by(ev.c.user_id)
    )
    st = s.student_state_cache
    state = wh.read(
        sa.select(
            st.c.user_id, st.c.state, st.c.recent_accuracy, st.c.recent_attempts,
            st.c.active_scenarios, st.c.theta, st.c.theta_se,
        )
    )
    week_start = date - dt.timedelta(days=date.weekday())
    kpis = wh.read("weekly_kpi", {"week_start": week_start}, columns=["user_id", "kpis"])
    ft = s.features_topic_daily
    attempts, correct = sa.func.sum(ft.c.attempts), sa.func.sum(ft.c.correct)
    weak = wh.read(
        sa.select(ft.c.user_id, ft.c.topic_id, attempts.label("attempts"), correct.label("correct"))
        .where(ft.c.date.between(date - dt.timedelta(days=WEAK_WINDOW_DAYS - 1), date))
        .group_by(ft.c.user_id, ft.c.topic_id)
        .having(attempts >= WEAK_MIN_ATTEMPTS)
        .having(correct < WEAK_MAX_ACCURACY * attempts)
    )
    weak["accuracy"] = (weak["correct"] / weak["attempts"]).astype(float) if len(weak) else pd.Series(dtype=float)
    ability = wh.read("mirt_ability", columns=["user_id", "theta", "se"])
    existing = wh.read("interventions", {"date": date}, columns=["user_id"])["user_id"].to_numpy(dtype=np.int64)
    return BatchInputs(date, day, state, kpis, weak.drop(columns="correct"), ability, existing)


def plan(inputs: BatchInputs, groups: tuple[VerbGroup, ...]) -> Plan:
    """Split the day's students: eligible, missing a required record, already done.

    The students are everyone active that day or known to the state cache.
    """
    students = np.union1d(
        inputs.day["user_id"].to_numpy(dtype=np.int64), inputs.state["user_id"].to_numpy(dtype=np.int64)
    )
    complete = users_with_required_records(inputs.day, groups)
    missing = np.setdiff1d(students, complete, assume_unique=True)
    duplicates = np.intersect1d(complete, inputs.existing)
    eligible = np.setdiff1d(complete, duplicates, assume_unique=True)
    return Plan(len(students), eligible, missing, duplicates)


def student_inputs(inputs: BatchInputs, user_ids: np.ndarray) -> list[StudentInputs]:
    """The JSON-ready inputs of each student in ``user_ids`` (what the recommender sees)."""
    index = pd.Index(user_ids, name="user_id")
    day = inputs.day.set_index("user_id").reindex(index, fill_value=0)
    state = inputs.state.drop_duplicates("user_id").set_index("user_id").reindex(index)
    kpis = inputs.kpis.drop_duplicates("user_id").set_index("user_id")["kpis"].reindex(index)
    ability = inputs.ability.drop_duplicates("user_id").set_index("user_id").reindex(index)
    weak = _weak_topics_by_user(inputs.weak_topics)
    date = inputs.date.isoformat()

    rows = zip(
        user_ids.tolist(), day["attempts"].tolist(), day["correct"].tolist(), day["activity_events"].tolist(),
        day["time_on_task_s"].astype(float).tolist(),
        state["state"].tolist(), state["recent_accuracy"].tolist(), state["recent_attempts"].tolist(),
        state["active_scenarios"].tolist(), state["theta"].tolist(), state["theta_se"].tolist(),
        kpis.tolist(), ability["theta"].tolist(), ability["se"].tolist(),
    )
    out = []
    for uid, n, ok, act, secs, st, r_acc, r_att, scen, st_theta, st_se, kpi, theta, se in rows:
        if _missing(theta) and not _missing(st_theta):  # no calibrated ability yet: the state's estimate
            theta, se = st_theta, st_se
        out.append(
            {
                "user_id": uid,
                "date": date,
                "today": {
                    "attempts": int(n),
                    "correct": int(ok),
                    "accuracy": round(ok / n, 4) if n else None,
                    "activity_events": int(act),
                    "time_on_task_s": round(secs, 1),
                },
                "state": None if _missing(st) else {
                    "state": st,
                    "recent_accuracy": _num(r_acc),
                    "recent_attempts": None if _missing(r_att) else int(r_att),
                    "active_scenarios": scen if isinstance(scen, list) else [],
                },
                "kpis": kpi if isinstance(kpi, dict) else None,
                "weak_topics": weak.get(uid, []),
                "ability": None if _missing(theta) else {"theta": _num(theta), "se": _num(se)},
            }
        )
    return out


def _weak_topics_by_user(weak: pd.DataFrame) -> dict[int, list[dict[str, Any]]]:
    if weak.empty:
        return {}
    top = weak.sort_values(["user_id", "accuracy", "topic_id"])
    top = top[top.groupby("user_id").cumcount() < WEAK_TOP]
    out: dict[int, list[dict[str, Any]]] = {}
    for uid, topic, n, acc in zip(
        top["user_id"].tolist(), top["topic_id"].tolist(), top["attempts"].tolist(), top["accuracy"].tolist()
    ):
        out.setdefault(uid, []).append({"topic_id": topic, "attempts": int(n), "accuracy": round(acc, 4)})
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _num(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def recommend(
    recommender: Recommender, students: Sequence[StudentInputs], chunk: int = 5_000
) -> list[Recommendation | Exception]:
    """Results for every student; a recommender call that fails as a whole fails its chunk only."""
    results: list[Recommendation | Exception] = []
    for start in range(0, len(students), chunk):
        part = students[start : start + chunk]
        try:
            got = recommender.recommend_many(part)
            if len(got) != len(part):
                raise RuntimeError(f"recommender returned {len(got)} results for {len(part)} students")
        except Exception as exc:  # noqa: BLE001 - every student of the chunk is recorded as failed
            got = [exc] * len(part)
        results.extend(
            r if isinstance(r, (Recommendation, Exception))
            else TypeError(f"recommender returned {type(r).__name__}, not a Recommendation")
            for r in got
        )
    return results


def run_batch(
    wh: Warehouse,
    date: dt.date,
    recommender: Recommender,
    groups: tuple[VerbGroup, ...],
    run_id: str | None = None,
    chunk: int = 5_000,
) -> BatchReport:
    """Process every student for ``date`` and store the interventions and the errors."""
    clock = _StageClock()
    inputs = load_inputs(wh, date, groups)
    clock.lap("load")
    batch = plan(inputs, groups)
    students = student_inputs(inputs, batch.eligible)
    clock.lap("prepare")
    results = recommend(recommender, students, chunk)
    clock.lap("recommend")
    now = utcnow()

    done = [(s, r) for s, r in zip(students, results) if isinstance(r, Recommendation)]
    interventions = pd.DataFrame(
        {
            "user_id": [s["user_id"] for s, _ in done],
            "date": date,
            "recommendation": [r.code for _, r in done],
            "message": [r.message for _, r in done],
            "priority": [int(r.priority) for _, r in done],
            "details": [s for s, _ in done],
            "recommender": recommender.name,
            "recommender_version": str(recommender.version),
            "run_id": run_id,
            "created_at": now,
        }
    )
    failed = [(s["user_id"], r) for s, r in zip(students, results) if not isinstance(r, Recommendation)]
    errors = pd.DataFrame(
        {
            "user_id": [uid for uid, _ in failed],
            "date": date,
            "error_type": [_error_type(exc) for _, exc in failed],
            "message": [(str(exc) or repr(exc))[:MESSAGE_MAX] for _, exc in failed],
            "run_id": run_id,
            "created_at": now,
        }
    )
    wh.append("interventions", interventions)
    wh.append("intervention_errors", errors)
    clock.lap("write")
    return BatchReport(
        date=date,
        students=batch.students,
        processed=len(interventions),
        skipped_missing_records=len(batch.missing_records),
        skipped_duplicate=len(batch.duplicates),
        failed=len(errors),
        recommendations=interventions["recommendation"].value_counts().sort_index().to_dict(),
        errors=errors,
        sample=interventions.sort_values(["priority", "user_id"]).head(10)[
            ["user_id", "recommendation", "priority", "message"]
        ],
        seconds=clock.laps,
    )


def _error_type(exc: BaseException) -> str:
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return name[:128]


class _StageClock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._last, 3)
        self._last = now
