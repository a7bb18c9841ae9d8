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


def count_attempts_without_time(engine: sa.Engine) -> int:
    """Attempts that no time window can ever read (``answered_at`` is NULL)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM attempt WHERE answered_at IS NULL")).scalar_one())
