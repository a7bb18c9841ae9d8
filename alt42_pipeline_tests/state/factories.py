"""Rows for the tables the state domain reads, written straight into a real warehouse."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd

NOW = dt.datetime(2026, 3, 10, 12, 0, 0)
_ids = itertools.count()


def event(
    user_id: int, at: dt.datetime, verb: str = "answered", success: bool | None = True, score=None, **extra
) -> dict:
    if verb == "answered" and score is None and success is not None:
        score = 1.0 if success else 0.0
    row = {
        "event_id": f"e{next(_ids)}",
        "user_id": user_id,
        "verb": verb,
        "object_id": None,
        "question_id": "q1" if verb == "answered" else None,
        "topic_id": "t1",
        "success": success if verb == "answered" else None,
        "score": score if verb == "answered" else None,
        "duration_s": 30.0,
        "occurred_at": at,
        "event_date": at.date(),
        "source": "test",
    }
    row.update(extra)
    return row


def answers(user_id: int, at: dt.datetime, correct: int, wrong: int) -> list[dict]:
    """``correct`` right and ``wrong`` wrong answers, a minute apart, ending at ``at``."""
    outcomes = [True] * correct + [False] * wrong
    n = len(outcomes)
    return [event(user_id, at - dt.timedelta(minutes=n - 1 - i), success=ok) for i, ok in enumerate(outcomes)]


def add_events(wh, rows: list[dict]) -> None:
    wh.append("events", pd.DataFrame(rows))
