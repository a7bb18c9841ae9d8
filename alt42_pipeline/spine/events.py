"""Source rows -> canonical events, with every bad row rejected for a named reason.

A canonical event is one learning action of one student:

================  ==========================================================
event_id          stable id from the source row (``asmt:<attempt id>``,
                  ``mdl-log:<log id>``, ``mdl-qa:<question attempt id>``)
user_id           the student (integer id shared by both sources)
verb              ``answered`` for a graded question attempt; otherwise the
                  activity (``logged_in``, ``viewed``, ``started``, ...)
object_id         what was acted on (``question:<id>``, ``quiz_attempts:12``)
question_id       item id for answers: assessment ids as is, Moodle ``mdl:<id>``
topic_id          topic of the question (Moodle: ``mdl-cat:<category>``)
success, score    for answers: correct or not, score in [0, 1]
duration_s        response time when the source knows it
occurred_at       naive UTC timestamp; ``event_date`` is its date
source            ``assessment`` | ``moodle``
================  ==========================================================

Rejection reasons, checked in this order (a row gets the first that applies):
``missing_user``, ``unparseable_time``, ``future_time``, ``outside_window``,
``unknown_question``, ``ungraded``, ``invalid_score``, ``score_out_of_range``,
``duplicate_event_id``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

EVENT_COLUMNS = [
    "event_id",
    "user_id",
    "verb",
    "object_id",
    "question_id",
    "topic_id",
    "success",
    "score",
    "duration_s",
    "occurred_at",
    "event_date",
    "source",
]
REJECT_COLUMNS = ["event_date", "source", "source_ref", "reason", "detail", "raw"]
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
ANSWERED = "answered"

_MOODLE_VERBS = {"loggedin": "logged_in", "loggedout": "logged_out", "answered": "responded"}


@dataclass(frozen=True)
class Canonical:
    """The events of one source window and the rows that were rejected."""

    events: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def reject_counts(self) -> dict[str, int]:
        return self.rejected["reason"].value_counts().sort_index().to_dict() if len(self.rejected) else {}


def _int_col(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values
    return pd.to_numeric(values, errors="coerce")


def _id_text(values: pd.Series) -> pd.Series:
    """Integer ids as text ("12", never "12.0"), missing as NA."""
    return _int_col(values).astype("Int64").astype("string")


def _float_col(values: pd.Series) -> pd.Series:
    return _int_col(values).astype("float64")


def _epoch_time(values: pd.Series) -> pd.Series:
    secs = _int_col(values)
    return pd.to_datetime(secs, unit="s", errors="coerce")


def _text_time(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    return parsed.dt.tz_localize(None)


def _candidates(index: pd.Index, *, source: str, raw_time: pd.Series, **columns) -> pd.DataFrame:
    """Candidate events in the canonical columns; a column a source does not know is empty."""
    empty = {
        "question_id": pd.Series(pd.NA, index=index, dtype="string"),
        "topic_id": pd.Series(pd.NA, index=index, dtype="string"),
        "success": pd.Series(pd.NA, index=index, dtype="boolean"),
        "score": np.nan,
        "duration_s": np.nan,
        "_graded": True,
    }
    frame = pd.DataFrame({**empty, **columns, "source": source, "_raw_time": raw_time}, index=index)
    return frame[[*EVENT_COLUMNS[:-2], "source", "_graded", "_raw_time"]]


def _answers(question: pd.Series, **columns) -> dict:
    """The columns every answer event has: the verb and what was answered."""
    return {"verb": ANSWERED, "object_id": "question:" + question, "question_id": question, **columns}


def map_assessment(attempts: pd.DataFrame, topics: pd.Series) -> pd.DataFrame:
    """Candidate events from assessment ``attempt`` rows; ``topics`` maps question id -> topic."""
    question = _id_text(attempts["question_id"])
    correct = _float_col(attempts["correct"])
    return _candidates(
        attempts.index,
        source="assessment",
        raw_time=attempts["answered_at"],
        event_id="asmt:" + _id_text(attempts["id"]),
        user_id=_int_col(attempts["user_id"]),
        occurred_at=_text_time(attempts["answered_at"]),
        **_answers(
            question,
            topic_id=question.map(topics).astype("string"),
            success=correct == 1,
            score=correct,
            duration_s=_float_col(attempts["response_time_ms"]) / 1000.0,
        ),
    )


def map_moodle_log(log: pd.DataFrame) -> pd.DataFrame:
    """Candidate activity events from ``logstore_standard_log`` rows."""
    action = log["action"].astype("string").str.lower()
    obj = (log["objecttable"].astype("string") + ":" + _id_text(log["objectid"])).fillna(log["target"].astype("string"))
    return _candidates(
        log.index,
        source="moodle",
        raw_time=log["timecreated"],
        event_id="mdl-log:" + _id_text(log["id"]),
        user_id=_int_col(log["userid"]).where(_int_col(log["anonymous"]).fillna(0) == 0),
        occurred_at=_epoch_time(log["timecreated"]),
        verb=action.replace(_MOODLE_VERBS),
        object_id=obj,
    )


def map_moodle_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """Candidate answer events from the last step of Moodle question attempts.

    Correct means state ``gradedright`` or fraction >= maxfraction; the score is
    fraction / maxfraction. A last step that is not graded is rejected as ``ungraded``.
    """
    fraction = _float_col(answers["fraction"])
    maxfraction = _float_col(answers["maxfraction"]).replace(0.0, np.nan)
    state = answers["state"].astype("string")
    graded = state.str.startswith("graded") | (state == "gaveup") | state.str.startswith("mangr")
    return _candidates(
        answers.index,
        source="moodle",
        raw_time=answers["timefinish"],
        event_id="mdl-qa:" + _id_text(answers["question_attempt_id"]),
        user_id=_int_col(answers["userid"]),
        occurred_at=_epoch_time(answers["timefinish"]),
        _graded=graded.fillna(False),
        **_answers(
            "mdl:" + _id_text(answers["questionid"]),
            topic_id="mdl-cat:" + _id_text(answers["category"]),
            success=(state == "gradedright") | (fraction >= _float_col(answers["maxfraction"])),
            score=(fraction / maxfraction).where(fraction.notna(), 0.0).where(graded),
        ),
    )


def canonicalize(
    candidates: pd.DataFrame,
    raw: pd.DataFrame,
    *,
    known_questions: set[str] | pd.Index,
    window: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
) -> Canonical:
    """Validate candidate events; return the good ones and a reject row for every other.

    ``raw`` is the source frame the candidates were mapped from (same index), kept in the
    reject rows as JSON so nothing is lost. ``window`` is the partition's ``[start, end)``.
    """
    c = candidates
    reason = pd.Series(pd.NA, index=c.index, dtype="string")
    detail = pd.Series(pd.NA, index=c.index, dtype="string")

    def flag(mask: pd.Series, name: str, text) -> None:
        """Give rows in ``mask`` (not yet rejected) reason ``name``; ``text(rows)`` says why."""
        mask = mask.fillna(False).astype(bool) & reason.isna()
        if not mask.any():
            return
        reason[mask] = name
        detail[mask] = text(c[mask]) if callable(text) else text

    is_answer = c["verb"] == ANSWERED
    start, end = window
    flag(c["user_id"].isna() | (c["user_id"] <= 0), "missing_user", "no user id (NULL, 0 or anonymous)")
    flag(
        c["occurred_at"].isna(),
        "unparseable_time",
        lambda r: "time " + r["_raw_time"].astype("string").fillna("NULL") + " is not a time",
    )
    flag(
        c["occurred_at"] > now + FUTURE_TOLERANCE,
        "future_time",
        lambda r: "time " + r["occurred_at"].astype("string") + " is in the future",
    )
    flag((c["occurred_at"] < start) | (c["occurred_at"] >= end), "outside_window", f"time outside [{start}, {end})")
    flag(
        is_answer & ~c["question_id"].isin(pd.Index(known_questions)),
        "unknown_question",
        lambda r: "question " + r["question_id"].fillna("NULL") + " is not in the catalogue",
    )
    flag(is_answer & ~c["_graded"].astype(bool), "ungraded", "last step of the question attempt is not graded")
    flag(is_answer & c["score"].isna(), "invalid_score", "score/correct is missing or not a number")
    flag(
        is_answer & ((c["score"] < 0) | (c["score"] > 1)),
        "score_out_of_range",
        lambda r: "score " + r["score"].astype("string") + " is outside [0, 1]",
    )
    # Later copies of an id are duplicates; the first copy is the record (kept or rejected).
    flag(
        c["event_id"].duplicated(keep="first"),
        "duplicate_event_id",
        lambda r: "event id " + r["event_id"] + " seen earlier in this window",
    )

    good = c[reason.isna()]
    events = good.assign(
        user_id=good["user_id"].astype("int64"),
        event_date=good["occurred_at"].dt.date,
        success=good["success"].where(good["verb"] == ANSWERED).astype("boolean"),
    )[EVENT_COLUMNS].reset_index(drop=True)

    bad = reason.notna()
    rejected = pd.DataFrame(
        {
            "event_date": start.date(),
            "source": c.loc[bad, "source"],
            "source_ref": c.loc[bad, "event_id"],
            "reason": reason[bad],
            "detail": detail[bad],
            "raw": [_raw_json(row) for row in raw.loc[bad[bad].index].to_dict("records")],
        }
    ).reset_index(drop=True)
    return Canonical(events=events, rejected=rejected)


def _raw_json(row: dict) -> str:
    return json.dumps({k: (None if _missing(v) else v) for k, v in row.items()}, default=str, sort_keys=True)


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
