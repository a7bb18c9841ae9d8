"""Rows for the tables the intervention batch reads, written through the warehouse."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd

from alt42_pipeline.warehouse import Warehouse

_ids = itertools.count()


def event(
    user_id: int, day: dt.date, verb: str, success: bool | None = None, topic: str = "t1", duration_s: float = 30.0
) -> dict:
    at = dt.datetime.combine(day, dt.time(10, 0))
    return {
        "event_id": f"e{next(_ids)}",
        "user_id": user_id,
        "verb": verb,
        "object_id": None,
        "question_id": "q1" if verb == "answered" else None,
        "topic_id": topic,
        "success": success,
        "score": None if success is None else float(success),
        "duration_s": duration_s,
        "occurred_at": at,
        "event_date": day,
        "source": "test",
    }


def day_of_study(user_id: int, day: dt.date, answers: list[bool], others: tuple[str, ...] = ("viewed",)) -> list[dict]:
    """A student's day: the given answers plus one event per verb in ``others``."""
    rows = [event(user_id, day, "answered", ok) for ok in answers]
    rows += [event(user_id, day, verb) for verb in others]
    return rows


def write_events(wh: Warehouse, rows: list[dict]) -> None:
    wh.append("events", pd.DataFrame(rows))


def write_state(wh: Warehouse, user_id: int, state: str, **extra) -> None:
    now = dt.datetime(2026, 11, 1)
    row = {"user_id": user_id, "state": state, "since": now, "recent_attempts": 0, "updated_at": now} | extra
    wh.append("student_state_cache", pd.DataFrame([row]))


def write_topic_day(wh: Warehouse, user_id: int, topic: str, day: dt.date, attempts: int, correct: int) -> None:
    row = {
        "user_id": user_id,
        "topic_id": topic,
        "date": day,
        "attempts": attempts,
        "correct": correct,
        "accuracy": correct / attempts,
        "mean_response_time_s": 20.0,
        "time_on_task_s": 60.0 * attempts,
        "computed_at": dt.datetime(2026, 11, 1),
    }
    wh.append("features_topic_daily", pd.DataFrame([row]))
