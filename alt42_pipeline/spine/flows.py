"""The spine's flows: read the sources or the warehouse, call the pure core, write.

Each function replaces what it owns in one transaction (a day of events and its rejects, a
day of features, a week of KPIs, the catalogue, the last-access snapshot), so a re-run never
duplicates and a crash never leaves half a partition. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from ..sources import Sources
from ..warehouse import Warehouse
from . import events as ev
from .accounting import accounting_rows, accounting_text
from .catalogue import CatalogueResult, build_catalogue
from .features import features_topic_daily
from .kpis import weekly_kpis

log = logging.getLogger(__name__)

_EVENT_FIELDS = ["event_id", "user_id", "verb", "question_id", "topic_id", "success", "duration_s", "occurred_at"]


@dataclass
class DayResult:
    day: dt.date
    events: int
    rejected: int
    by_source: dict[str, int]
    reject_reasons: dict[str, int]
    read_rows: int
    #: source -> kind -> rows: read, events, rejected, updated, apart:<kind> (the invariant),
    #: and the counters beside it: without_time, note:<value corrected>.
    accounting: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def kept_apart(self) -> dict[str, int]:
        return dict(
            sum(
                (
                    Counter({k[6:]: n for k, n in kinds.items() if k.startswith("apart:")})
                    for kinds in self.accounting.values()
                ),
                Counter(),
            )
        )

    @property
    def updated(self) -> int:
        return sum(kinds.get("updated", 0) for kinds in self.accounting.values())

    @property
    def without_time(self) -> dict[str, int]:
        return {src: kinds["without_time"] for src, kinds in self.accounting.items() if kinds.get("without_time")}

    def accounting_line(self) -> str:
        return "; ".join(accounting_text(src, kinds) for src, kinds in sorted(self.accounting.items()))


def total_reject_reasons(results: list[DayResult]) -> dict[str, int]:
    """Rejected rows per reason over several days."""
    return dict(sum((Counter(r.reject_reasons) for r in results), Counter()))


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


# -- the catalogue and Moodle's last access --------------------------------------------------


def refresh_catalogue(wh: Warehouse, sources: Sources, now: dt.datetime) -> CatalogueResult:
    """Replace ``questions`` with both sources' question banks, and ``catalogue_problems``
    with the problems found (a question with a problem is kept, see ``spine.catalogue``)."""
    frame, problems = build_catalogue(sources.assessment_questions(), sources.moodle_questions(), now)
    with wh.transaction() as tx:
        tx.replace("questions", frame, None)
        tx.replace("catalogue_problems", problems.assign(updated_at=now), None)
    return CatalogueResult(
        rows=len(frame),
        anchors=int(frame["is_anchor"].sum()),
        by_source=frame["source"].value_counts().to_dict(),
        problems={p: list(g["question_id"]) for p, g in problems.groupby("problem")},
    )


def refresh_last_access(wh: Warehouse, sources: Sources, now: dt.datetime) -> pd.DataFrame:
    """Replace ``user_last_access`` with Moodle's ``user_lastaccess``; returns what was written."""
    raw = sources.last_access()
    frame = pd.DataFrame(
        {
            "user_id": pd.to_numeric(raw["userid"]).astype("int64"),
            "course_id": pd.to_numeric(raw["courseid"]).astype("int64"),
            "last_access_at": pd.to_datetime(pd.to_numeric(raw["timeaccess"]), unit="s"),
            "updated_at": now,
        }
    )
    wh.replace("user_last_access", frame, None)
    return frame


# -- events ------------------------------------------------------------------------------------

#: Far enough back for the windows of changes (regrades, late finishes) of earlier days.
_EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class _Day:
    """What one day's ingest computed before writing."""

    canonical: ev.Canonical  # the day's own events and every reject of the run
    updates: pd.DataFrame  # events of earlier days that changed (regrades, late finishes)
    moved: pd.Index  # event ids of Moodle answers written on another day before
    accounting: dict[str, dict[str, int]]


def _taken_elsewhere(wh: Warehouse, ids: pd.Series, day: dt.date) -> pd.Index:
    """The ``ids`` that are events of a day other than ``day``."""
    t = wh.table("events")
    other = sa.or_(t.c.event_date < day, t.c.event_date > day)
    if not len(ids) or wh.scalar(sa.select(t.c.event_id).where(other).limit(1)) is None:
        return pd.Index([], dtype=object)  # no other day yet: nothing to look up
    ids = pd.Index(ids.dropna().astype(str).unique())
    found: list[str] = []
    for i in range(0, len(ids), 10_000):
        chunk = list(ids[i : i + 10_000])
        found += wh.read(sa.select(t.c.event_id).where(t.c.event_id.in_(chunk), other))["event_id"].tolist()
    return pd.Index(found, dtype=object)


def _ids(prefix: str, raw: pd.DataFrame, column: str) -> pd.Series:
    return prefix + ev._id_text(raw[column]) if len(raw) else pd.Series([], dtype="string")


def canonical_day(wh: Warehouse, sources: Sources, day: dt.date, now: dt.datetime) -> tuple[ev.Canonical, int]:
    """Read ``day`` from every configured source and canonicalize it (nothing written)."""
    d = _canonical_day(wh, sources, day, now)
    return d.canonical, sum(kinds["read"] for kinds in d.accounting.values())


def _canonical_day(wh: Warehouse, sources: Sources, day: dt.date, now: dt.datetime) -> _Day:
    window = day_window(day)
    catalogue = wh.read("questions", columns=["question_id", "topic_id", "source"])
    known = pd.Index(catalogue["question_id"])
    common = {"known_questions": known, "now": now, "reject_date": day}
    parts: list[ev.Canonical] = []
    accounting: dict[str, dict[str, int]] = {}
    updates = pd.DataFrame(columns=ev.EVENT_COLUMNS)
    moved = pd.Index([], dtype=object)
    if sources.assessment is not None:
        attempts = sources.attempts(*window)
        topics = catalogue.loc[catalogue.source == "assessment"].set_index("question_id")["topic_id"]
        part = ev.canonicalize_safely(
            lambda r: ev.map_assessment(r, topics),
            attempts,
            source="assessment",
            window=window,
            taken=_taken_elsewhere(wh, _ids("asmt:", attempts, "id"), day),
            **common,
        )
        parts.append(part)
        accounting["assessment"] = accounting_rows(
            read=len(attempts), day_part=part, without_time=sources.attempts_without_time()
        )
    if sources.moodle is not None:
        students = sources.moodle_students()
        logs = sources.moodle_log(*window)
        log_part = ev.canonicalize_safely(
            lambda r: ev.map_moodle_log(r, students),
            logs,
            source="moodle",
            window=window,
            taken=_taken_elsewhere(wh, _ids("mdl-log:", logs, "id"), day),
            **common,
        )
        # A question attempt is one event wherever it was first written: its latest state
        # replaces it (a quiz attempt re-opened and finished on a later day moves it).
        answers = sources.moodle_answers(*window)
        answer_part = ev.canonicalize_safely(
            lambda r: ev.map_moodle_answers(r, students), answers, source="moodle", window=window, **common
        )
        moved = _taken_elsewhere(wh, answer_part.events["event_id"], day)
        changes = sources.moodle_changes(*window)
        change_part = ev.canonicalize_safely(
            lambda r: ev.map_moodle_answers(r, students),
            changes,
            source="moodle",
            window=(_EPOCH, window[0]),
            **common,
        )
        updates = change_part.events
        day_part = ev.Canonical.combine([log_part, answer_part])
        parts += [log_part, answer_part, ev.Canonical(updates.iloc[:0], change_part.rejected, change_part.apart)]
        accounting["moodle"] = accounting_rows(
            read=len(logs) + len(answers) + len(changes),
            day_part=ev.Canonical.combine(
                [day_part, ev.Canonical(updates.iloc[:0], change_part.rejected, change_part.apart, change_part.notes)]
            ),
            updated=len(updates),
            moved=len(moved),
        )
    return _Day(canonical=ev.Canonical.combine(parts), updates=updates, moved=moved, accounting=accounting)


def ingest_day(wh: Warehouse, sources: Sources, day: dt.date, now: dt.datetime) -> DayResult:
    """Replace the ``events``, ``rejected_events`` and ``ingest_accounting`` partitions of
    ``day`` together, and apply the changes Moodle made that day to earlier days' answers."""
    d = _canonical_day(wh, sources, day, now)
    canonical = d.canonical
    rejected = canonical.rejected.assign(rejected_at=now)
    book = pd.DataFrame(
        [
            {"event_date": day, "source": src, "kind": kind, "rows": int(n), "recorded_at": now}
            for src, kinds in d.accounting.items()
            for kind, n in kinds.items()
        ],
        columns=["event_date", "source", "kind", "rows", "recorded_at"],
    )
    with wh.transaction() as tx:
        tx.delete("events", {"event_date": day})
        tx.delete_in("events", "event_id", list(d.moved) + list(d.updates["event_id"]))
        # in the order of the secondary indexes ((event_date, user_id), (user_id, occurred_at)):
        # the database then adds to their B-trees mostly in sequence
        written = pd.concat([canonical.events, d.updates], ignore_index=True)
        tx.insert("events", written.sort_values(["event_date", "user_id", "occurred_at"], kind="stable"))
        tx.replace("rejected_events", rejected, {"event_date": day})
        tx.replace("ingest_accounting", book, {"event_date": day})
    result = DayResult(
        day=day,
        events=len(canonical.events),
        rejected=len(rejected),
        by_source=canonical.events["source"].value_counts().to_dict(),
        reject_reasons=canonical.reject_counts,
        read_rows=sum(kinds["read"] for kinds in d.accounting.values()),
        accounting=d.accounting,
    )
    log.info("%s: %s (rejects %s)", day, result.accounting_line(), result.reject_reasons)
    return result


# -- features and KPIs ---------------------------------------------------------------------------


def read_events(wh: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Events with ``first <= event_date <= last`` (uses the (event_date, user_id) index)."""
    t = wh.table("events")
    stmt = sa.select(*[t.c[c] for c in _EVENT_FIELDS]).where(t.c.event_date >= first, t.c.event_date <= last)
    return wh.read(stmt)


def refresh_features(wh: Warehouse, day: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Replace the ``features_topic_daily`` partition of ``day``; returns what was written."""
    frame = features_topic_daily(read_events(wh, day, day), day, now)
    wh.replace("features_topic_daily", frame, {"date": day})
    return frame


def refresh_kpis(wh: Warehouse, week: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Replace the ``weekly_kpi`` partition of the week starting ``week``."""
    q = wh.table("questions")
    n_topics = int(wh.scalar(sa.select(sa.func.count(sa.distinct(q.c.topic_id)))) or 0)
    frame = weekly_kpis(read_events(wh, week, week + dt.timedelta(days=6)), week, n_topics)
    frame["updated_at"] = now
    wh.replace("weekly_kpi", frame, {"week_start": week})
    return frame
