"""One day of source rows -> canonical events and rejects, written as one partition."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from ..core import events as ev
from ..sources import assessment, moodle
from ..warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class DayResult:
    day: dt.date
    events: int
    rejected: int
    by_source: dict[str, int]
    reject_reasons: dict[str, int]
    read_rows: int


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


def canonical_day(
    wh: Warehouse,
    asmt_engine: sa.Engine | None,
    moodle_engine: sa.Engine | None,
    moodle_prefix: str,
    day: dt.date,
    now: dt.datetime,
) -> tuple[ev.Canonical, int]:
    """Read ``day`` from every configured source and canonicalize it (nothing written)."""
    window = day_window(day)
    catalogue = wh.read("questions", columns=["question_id", "topic_id", "source"])
    known = pd.Index(catalogue["question_id"])
    parts: list[ev.Canonical] = []
    read = 0
    if asmt_engine is not None:
        attempts = assessment.read_attempts(asmt_engine, *window)
        topics = catalogue.loc[catalogue.source == "assessment"].set_index("question_id")["topic_id"]
        parts.append(ev.canonicalize(ev.map_assessment(attempts, topics), attempts, known_questions=known, window=window, now=now))
        read += len(attempts)
    if moodle_engine is not None:
        logs = moodle.read_log(moodle_engine, moodle_prefix, *window)
        parts.append(ev.canonicalize(ev.map_moodle_log(logs), logs, known_questions=known, window=window, now=now))
        answers = moodle.read_quiz_answers(moodle_engine, moodle_prefix, *window)
        parts.append(ev.canonicalize(ev.map_moodle_answers(answers), answers, known_questions=known, window=window, now=now))
        read += len(logs) + len(answers)
    events = pd.concat([p.events for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=ev.EVENT_COLUMNS)
    rejected = pd.concat([p.rejected for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=ev.REJECT_COLUMNS)
    return ev.Canonical(events=events, rejected=rejected), read


def ingest_day(
    wh: Warehouse,
    asmt_engine: sa.Engine | None,
    moodle_engine: sa.Engine | None,
    moodle_prefix: str,
    day: dt.date,
    now: dt.datetime,
) -> DayResult:
    """Replace the ``events`` and ``rejected_events`` partitions of ``day`` together."""
    canonical, read = canonical_day(wh, asmt_engine, moodle_engine, moodle_prefix, day, now)
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
    log.info("%s: %s source rows -> %s events, %s rejected %s", day, read, result.events, result.rejected, result.reject_reasons)
    return result
