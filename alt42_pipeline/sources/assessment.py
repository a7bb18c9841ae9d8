"""Reader of the assessment database: ``attempt`` rows per time window and ``question``."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from .query import read_frame


def read_questions(engine: sa.Engine) -> pd.DataFrame:
    """Every question: ``id``, ``topic``, ``meta`` (JSON text as stored)."""
    return read_frame(engine, "SELECT id, topic, meta FROM question ORDER BY id")


def read_attempts(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Attempts answered in ``[start, end)`` (naive UTC); uses the index on answered_at."""
    return read_frame(
        engine,
        "SELECT id, user_id, question_id, correct, answered_at, response_time_ms "
        "FROM attempt WHERE answered_at >= :start AND answered_at < :end",
        {"start": start, "end": end},
    )


#: Times outside these bounds (PostgreSQL's ``infinity`` among them) belong to no day.
USABLE_TIMES = (dt.datetime(1970, 1, 1), dt.datetime(9000, 1, 1))


def count_attempts_without_time(engine: sa.Engine) -> int:
    """Attempts that no time window can ever read: ``answered_at`` NULL, ``infinity`` or
    ``-infinity`` (or otherwise outside :data:`USABLE_TIMES`)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM attempt WHERE answered_at IS NULL "
                    "OR NOT (answered_at >= :lo AND answered_at < :hi)"
                ),
                {"lo": USABLE_TIMES[0], "hi": USABLE_TIMES[1]},
            ).scalar_one()
        )
