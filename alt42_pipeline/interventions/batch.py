"""The intervention batch for one day: who qualifies, what to recommend, what went wrong.

Everything the batch needs is read in three set-based queries (:func:`load_inputs`),
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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..clock import utcnow
from ..redaction import redact
from ..spine import week_start as week_of
from ..warehouse import Warehouse
from .recommender import (
    MESSAGE_MAX,
    InvalidRecommendation,
    Recommendation,
    Recommender,
    StudentInputs,
    validate_recommendation,
)
from .required_records import VerbGroup, flag_column, has_required_records

ATTEMPT_VERB = "answered"
#: Weak topics: the last two weeks of topic features, at least this many attempts and less
#: than this accuracy, weakest first, at most this many per student.
WEAK_WINDOW_DAYS = 14
WEAK_MIN_ATTEMPTS = 3
WEAK_MAX_ACCURACY = 0.6
WEAK_TOP = 3


@dataclass
class BatchInputs:
    """What the warehouse knows that matters for the batch of ``date``."""

    date: dt.date
    #: One row per student active that day: attempts, correct, activity_events,
    #: time_on_task_s, required_<i> flags, their state, weekly KPIs, ability, and
    #: has_intervention (1 when the day already has one).
    active: pd.DataFrame
    #: Students of the state cache with no event that day (they lack the required records).
    inactive_known: int
    weak_topics: pd.DataFrame  # user_id, topic_id, attempts, accuracy


@dataclass
class Plan:
    students: int
    eligible: pd.DataFrame  # the rows of ``BatchInputs.active`` to recommend for
    missing_records: int
    duplicates: int


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
    """Everything the batch needs in three queries (a row costs more than a column to read)."""
    ev, st, kpi, ab, iv = (
        wh.table(name) for name in ("events", "student_state_cache", "weekly_kpi", "mirt_ability", "interventions")
    )
    is_attempt = ev.c.verb == ATTEMPT_VERB
    day = (
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
        .subquery("day")
    )
    week_start = week_of(date)
    active = wh.read(
        sa.select(
            *day.c,
            st.c.state,
            st.c.recent_accuracy,
            st.c.recent_attempts,
            st.c.active_scenarios,
            st.c.theta.label("state_theta"),
            st.c.theta_se.label("state_theta_se"),
            kpi.c.kpis,
            ab.c.theta,
            ab.c.se,
            sa.case((iv.c.user_id.is_not(None), 1), else_=0).label("has_intervention"),
        )
        .select_from(
            day.outerjoin(st, st.c.user_id == day.c.user_id)
            .outerjoin(kpi, sa.and_(kpi.c.user_id == day.c.user_id, kpi.c.week_start == week_start))
            .outerjoin(ab, ab.c.user_id == day.c.user_id)
            .outerjoin(iv, sa.and_(iv.c.user_id == day.c.user_id, iv.c.date == date))
        )
        .order_by(day.c.user_id)
    )
    inactive_known = wh.scalar(
        sa.select(sa.func.count())
        .select_from(st)
        .where(~sa.exists().where(ev.c.event_date == date, ev.c.user_id == st.c.user_id))
    )
    ft = wh.table("features_topic_daily")
    attempts, correct = sa.func.sum(ft.c.attempts), sa.func.sum(ft.c.correct)
    weak = wh.read(
        sa.select(ft.c.user_id, ft.c.topic_id, attempts.label("attempts"), correct.label("correct"))
        .where(ft.c.date.between(date - dt.timedelta(days=WEAK_WINDOW_DAYS - 1), date))
        .group_by(ft.c.user_id, ft.c.topic_id)
        .having(attempts >= WEAK_MIN_ATTEMPTS)
        .having(correct < WEAK_MAX_ACCURACY * attempts)
    )
    weak["accuracy"] = (weak["correct"] / weak["attempts"]).astype(float) if len(weak) else pd.Series(dtype=float)
    return BatchInputs(date, active, int(inactive_known or 0), weak.drop(columns="correct"))


def plan(inputs: BatchInputs, groups: tuple[VerbGroup, ...]) -> Plan:
    """Split the day's students: eligible, missing a required record, already done.

    The students are everyone active that day or known to the state cache.
    """
    active = inputs.active
    complete = has_required_records(active, groups)
    done = complete & (active["has_intervention"].to_numpy() > 0)
    return Plan(
        students=len(active) + inputs.inactive_known,
        eligible=active[complete & ~done],
        missing_records=int((~complete).sum()) + inputs.inactive_known,
        duplicates=int(done.sum()),
    )


def student_inputs(date: dt.date, students: pd.DataFrame, weak_topics: pd.DataFrame) -> list[StudentInputs]:
    """The JSON-ready inputs of each student (rows of ``BatchInputs.active``): what the recommender sees."""
    weak = _weak_topics_by_user(weak_topics)
    day = date.isoformat()
    columns = [
        "user_id",
        "attempts",
        "correct",
        "activity_events",
        "time_on_task_s",
        "state",
        "recent_accuracy",
        "recent_attempts",
        "active_scenarios",
        "state_theta",
        "state_theta_se",
        "kpis",
        "theta",
        "se",
    ]
    rows = zip(*(students[c].tolist() for c in columns))
    out = []
    for uid, n, ok, act, secs, st, r_acc, r_att, scen, st_theta, st_se, kpi, theta, se in rows:
        if _missing(theta) and not _missing(st_theta):  # no calibrated ability yet: the state's estimate
            theta, se = st_theta, st_se
        n, ok = int(n), int(ok)
        out.append(
            {
                "user_id": int(uid),
                "date": day,
                "today": {
                    "attempts": n,
                    "correct": ok,
                    "accuracy": round(ok / n, 4) if n else None,
                    "activity_events": int(act),
                    "time_on_task_s": round(float(secs), 1),
                },
                "state": None
                if _missing(st)
                else {
                    "state": st,
                    "recent_accuracy": _num(r_acc),
                    "recent_attempts": None if _missing(r_att) else int(r_att),
                    "active_scenarios": scen if isinstance(scen, list) else [],
                },
                "kpis": kpi if isinstance(kpi, dict) else None,
                "weak_topics": weak.get(int(uid), []),
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
    recommender: Recommender, students: Sequence[StudentInputs], chunk: int = 500
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
        results.extend(r if isinstance(r, Exception) else _checked(r) for r in got)
    return results


def _checked(result: object) -> Recommendation | Exception:
    """A recommender's result within the documented bounds, else the error for that student."""
    try:
        return validate_recommendation(result)
    except InvalidRecommendation as exc:
        return exc


def run_batch(
    wh: Warehouse,
    date: dt.date,
    recommender: Recommender,
    groups: tuple[VerbGroup, ...],
    run_id: str | None = None,
    chunk: int = 500,
) -> BatchReport:
    """Process every student for ``date`` and store the interventions and the errors."""
    clock = _StageClock()
    inputs = load_inputs(wh, date, groups)
    clock.lap("load")
    batch = plan(inputs, groups)
    students = student_inputs(date, batch.eligible, inputs.weak_topics)
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
            "message": [_error_message(exc) for _, exc in failed],
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
        skipped_missing_records=batch.missing_records,
        skipped_duplicate=batch.duplicates,
        failed=len(errors),
        recommendations=interventions["recommendation"].value_counts().sort_index().to_dict(),
        errors=errors,
        sample=interventions.sort_values(["priority", "user_id"]).head(10)[
            ["user_id", "recommendation", "priority", "message"]
        ],
        seconds=clock.laps,
    )


@dataclass
class BatchSummary:
    """The batches of several days (a backfill range) taken together."""

    reports: dict[dt.date, BatchReport]

    def _total(self, attribute: str) -> dict:
        total: Counter = Counter()
        for report in self.reports.values():
            total.update(getattr(report, attribute))
        return dict(total)

    @property
    def counts(self) -> dict[str, int]:
        return self._total("counts")

    @property
    def recommendations(self) -> dict[str, int]:
        return self._total("recommendations")

    @property
    def seconds(self) -> dict[str, float]:
        return {stage: round(s, 3) for stage, s in self._total("seconds").items()}

    @property
    def last(self) -> BatchReport:
        return self.reports[max(self.reports)]

    @property
    def first_error(self) -> str | None:
        """The error type of the first failed student, or None when none failed."""
        failed = next((r for r in self.reports.values() if r.failed), None)
        return None if failed is None else str(failed.errors.iloc[0]["error_type"])

    @property
    def systemic_failure_days(self) -> list[dt.date]:
        """Days where every eligible student failed and none succeeded: a systemic failure
        (e.g. the remote recommender is down), which should fail the run so it is retried."""
        return [day for day, r in self.reports.items() if r.failed and not r.processed]


def run_days(
    wh: Warehouse,
    days: Iterable[dt.date],
    recommender: Recommender,
    groups: tuple[VerbGroup, ...],
    run_id: str | None = None,
    chunk: int = 500,
    on_day=None,
) -> BatchSummary:
    """:func:`run_batch` for each day (one day, or every day of a backfill range);
    ``on_day(report)`` is called after each (progress logging)."""
    reports = {}
    for day in days:
        reports[day] = run_batch(wh, day, recommender, groups, run_id=run_id, chunk=chunk)
        if on_day is not None:
            on_day(reports[day])
    return BatchSummary(reports)


def _error_message(exc: BaseException) -> str:
    """What intervention_errors keeps of an error: cut short, secrets masked, storable text."""
    text = redact(str(exc) or repr(exc))[:MESSAGE_MAX]
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\0")


def unresolved_failures(wh: Warehouse, days: Iterable[dt.date]) -> dict[dt.date, int]:
    """Per day: students with a stored error and still no intervention (a later run that
    succeeded for them resolves the error)."""
    days = list(days)
    if not days:
        return {}
    e, i = wh.table("intervention_errors"), wh.table("interventions")
    resolved = sa.exists().where(i.c.user_id == e.c.user_id, i.c.date == e.c.date)
    stmt = (
        sa.select(e.c.date, sa.func.count(sa.distinct(e.c.user_id)))
        .where(e.c.date.in_(days), ~resolved)
        .group_by(e.c.date)
    )
    return {pd.Timestamp(day).date(): int(n) for day, n in wh.read(stmt).itertuples(index=False)}


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


def rows_by_run(wh: Warehouse, run_ids: list[str]) -> dict[str, dict[str, int]]:
    """What each run left in the warehouse: ``{run_id: {"interventions": n, "errors": n}}``
    (runs that wrote nothing are absent)."""
    out: dict[str, dict[str, int]] = {}
    if not run_ids:
        return out
    for base, key in (("interventions", "interventions"), ("intervention_errors", "errors")):
        table = wh.table(base)
        stmt = (
            sa.select(table.c.run_id, sa.func.count().label("n"))
            .where(table.c.run_id.in_(run_ids))
            .group_by(table.c.run_id)
        )
        for run_id, n in wh.read(stmt).itertuples(index=False):
            out.setdefault(run_id, {"interventions": 0, "errors": 0})[key] = int(n)
    return out
