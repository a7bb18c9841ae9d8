"""The spine's flows: read the sources or the warehouse, call the pure core, write.

Each function replaces what it owns in one transaction (a day of events and its rejects, a
day of features, a week of KPIs, the catalogue, the last-access snapshot), so a re-run never
duplicates and a crash never leaves half a partition. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from ..sources import Sources
from ..warehouse import Warehouse
from . import events as ev
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


def total_reject_reasons(results: list[DayResult]) -> dict[str, int]:
    """Rejected rows per reason over several days."""
    return dict(sum((Counter(r.reject_reasons) for r in results), Counter()))


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


# -- the catalogue and Moodle's last access --------------------------------------------------


def refresh_catalogue(wh: Warehouse, sources: Sources, now: dt.datetime) -> CatalogueResult:
    """Replace ``questions`` with both sources' question banks."""
    frame, problems = build_catalogue(sources.assessment_questions(), sources.moodle_questions(), now)
    wh.replace("questions", frame, None)
    return CatalogueResult(
        rows=len(frame),
        anchors=int(frame["is_anchor"].sum()),
        by_source=frame["source"].value_counts().to_dict(),
        problems=problems,
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


def canonical_day(wh: Warehouse, sources: Sources, day: dt.date, now: dt.datetime) -> tuple[ev.Canonical, int]:
    """Read ``day`` from every configured source and canonicalize it (nothing written)."""
    window = day_window(day)
    catalogue = wh.read("questions", columns=["question_id", "topic_id", "source"])
    known = pd.Index(catalogue["question_id"])
    parts: list[ev.Canonical] = []
    read = 0
    if sources.assessment is not None:
        attempts = sources.attempts(*window)
        topics = catalogue.loc[catalogue.source == "assessment"].set_index("question_id")["topic_id"]
        parts.append(
            ev.canonicalize(
                ev.map_assessment(attempts, topics), attempts, known_questions=known, window=window, now=now
            )
        )
        read += len(attempts)
    if sources.moodle is not None:
        logs = sources.moodle_log(*window)
        parts.append(ev.canonicalize(ev.map_moodle_log(logs), logs, known_questions=known, window=window, now=now))
        answers = sources.moodle_answers(*window)
        parts.append(
            ev.canonicalize(ev.map_moodle_answers(answers), answers, known_questions=known, window=window, now=now)
        )
        read += len(logs) + len(answers)
    events = (
        pd.concat([p.events for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=ev.EVENT_COLUMNS)
    )
    rejected = (
        pd.concat([p.rejected for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=ev.REJECT_COLUMNS)
    )
    return ev.Canonical(events=events, rejected=rejected), read


def ingest_day(wh: Warehouse, sources: Sources, day: dt.date, now: dt.datetime) -> DayResult:
    """Replace the ``events`` and ``rejected_events`` partitions of ``day`` together."""
    canonical, read = canonical_day(wh, sources, day, now)
    rejected = canonical.rejected.assign(rejected_at=now)
    wh.replace_many(
        [
            ("events", canonical.events, {"event_date": day}),
            ("rejected_events", rejected, {"event_date": day}),
        ]
    )
    result = DayResult(
        day=day,
        events=len(canonical.events),
        rejected=len(rejected),
        by_source=canonical.events["source"].value_counts().to_dict(),
        reject_reasons=canonical.reject_counts,
        read_rows=read,
    )
    log.info(
        "%s: %s source rows -> %s events, %s rejected %s",
        day,
        read,
        result.events,
        result.rejected,
        result.reject_reasons,
    )
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
