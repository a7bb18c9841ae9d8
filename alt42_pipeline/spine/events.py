"""Source rows -> canonical events, with every row accounted for.

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
success           for answers: full marks (assessment ``correct = 1``; Moodle
                  fraction at the question's maximum)
score             for answers: the mark normalised to [0, 1] between the
                  question's minimum and maximum fraction (partial credit kept)
raw_score         the mark as the source gave it (Moodle's fraction, which may
                  be negative down to the question's minimum; ``correct``)
duration_s        response time when the source knows it and it is plausible
occurred_at       naive UTC timestamp; ``event_date`` is its date
source            ``assessment`` | ``moodle``
================  ==========================================================

Every source row read ends as exactly one of: an event, a reject (``rejected_events``,
with its reason and the raw row), or a row *kept apart* on purpose, counted by kind
(``non_student``: a teacher's or manager's action; ``preview``: a teacher's quiz preview).
No row can raise out of :func:`canonicalize_safely`: a row that breaks the mapping becomes
an ``unexpected_value`` reject.

Rejection reasons, checked in this order (a row gets the first that applies):
``invalid_id``, ``missing_user``, ``invalid_text``, ``value_too_long``,
``unparseable_time``, ``future_time``, ``outside_window``, ``unknown_question``,
``ungraded``, ``invalid_correct``, ``invalid_score``, ``score_out_of_range``,
``duplicate_event_id`` (a second copy in the window, or an id that is already an event of
another day: the first one ingested stays the event), ``unexpected_value``.

Values corrected rather than rejected (counted in ``Canonical.notes``):
``duration_out_of_range``: a negative response time or one above :data:`MAX_DURATION_S`
becomes a NULL duration (the answer itself is good).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field

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
    "raw_score",
    "duration_s",
    "occurred_at",
    "event_date",
    "source",
]
REJECT_COLUMNS = ["event_date", "source", "source_ref", "reason", "detail", "raw"]
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
ANSWERED = "answered"
#: The longest plausible response time of one answer (a longer one is a clock or client fault).
MAX_DURATION_S = 3 * 3600.0
#: Text columns of an event and their width in the warehouse (``event_id`` and ``question_id``
#: are a short prefix and a whole number: they always fit).
TEXT_LIMITS = {"verb": 32, "object_id": 96, "topic_id": 64}
#: How much of a raw source value a reject keeps (longer text is cut, saying so).
RAW_TEXT_MAX = 500
#: Tolerance on Moodle fractions (stored as NUMBER(12,7)).
_EPS = 1e-6

_MOODLE_VERBS = {"loggedin": "logged_in", "loggedout": "logged_out", "answered": "responded"}
#: Moodle step states that give the question attempt its mark (see ``sources.moodle``).
FINAL_STATES = frozenset(
    {"gradedright", "gradedpartial", "gradedwrong", "gaveup", "mangrright", "mangrpartial", "mangrwrong", "mangaveup"}
)
_GAVE_UP = ("gaveup", "mangaveup")


@dataclass(frozen=True)
class Canonical:
    """The events of one source window, the rows rejected and the rows kept apart."""

    events: pd.DataFrame
    rejected: pd.DataFrame
    apart: dict[str, int] = field(default_factory=dict)  # kind -> rows kept apart on purpose
    notes: dict[str, int] = field(default_factory=dict)  # values corrected, by reason

    @property
    def reject_counts(self) -> dict[str, int]:
        return self.rejected["reason"].value_counts().sort_index().to_dict() if len(self.rejected) else {}

    @property
    def rows(self) -> int:
        """Source rows accounted for: events + rejects + kept apart."""
        return len(self.events) + len(self.rejected) + sum(self.apart.values())

    @staticmethod
    def combine(parts: list[Canonical]) -> Canonical:
        if not parts:
            return Canonical(pd.DataFrame(columns=EVENT_COLUMNS), pd.DataFrame(columns=REJECT_COLUMNS))
        return Canonical(
            events=pd.concat([p.events for p in parts], ignore_index=True),
            rejected=pd.concat([p.rejected for p in parts], ignore_index=True),
            apart=dict(sum((Counter(p.apart) for p in parts), Counter())),
            notes=dict(sum((Counter(p.notes) for p in parts), Counter())),
        )


def _int_col(values: pd.Series) -> pd.Series:
    """Numbers as float64 (NaN where not a number)."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values.astype("object").map(_number_or_none), errors="coerce").astype("float64")


def _number_or_none(value):
    if value is None or isinstance(value, (int, float, np.integer, np.floating)):
        return value
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _integers(values: pd.Series) -> pd.Series:
    """Whole numbers as Int64; NA where missing, not a number, fractional or infinite."""
    f = _int_col(values)
    ok = np.isfinite(f) & (f == np.floor(f)) & (f.abs() < 2**62)
    return f.where(ok).astype("Int64")


def _bad_ids(*pairs: tuple[pd.Series, pd.Series]) -> pd.Series:
    """True where a raw id is present but not a whole number."""
    bad = None
    for raw, parsed in pairs:
        m = raw.notna() & parsed.isna()
        bad = m if bad is None else bad | m
    return bad


def _id_text(values: pd.Series) -> pd.Series:
    """Integer ids as text ("12", never "12.0"), missing or invalid as NA."""
    return _integers(values).astype("string")


def _float_col(values: pd.Series) -> pd.Series:
    return _int_col(values)


def _epoch_time(values: pd.Series) -> pd.Series:
    secs = _int_col(values)
    secs = secs.where(np.isfinite(secs) & (secs.abs() < 1e11))
    return pd.to_datetime(secs, unit="s", errors="coerce")


def _text_time(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        v = pd.Series(values)
        return v.dt.tz_convert(None) if v.dt.tz is not None else v.astype("datetime64[ns]")
    text = values.astype("object").map(lambda v: v if isinstance(v, (str, dt.datetime, pd.Timestamp)) else None)
    parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return parsed.dt.tz_localize(None)


def _column(frame: pd.DataFrame, name: str, default) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(default, index=frame.index)


def _candidates(index: pd.Index, *, source: str, raw_time: pd.Series, **columns) -> pd.DataFrame:
    """Candidate events in the canonical columns; a column a source does not know is empty."""
    empty = {
        "question_id": pd.Series(pd.NA, index=index, dtype="string"),
        "topic_id": pd.Series(pd.NA, index=index, dtype="string"),
        "success": pd.Series(pd.NA, index=index, dtype="boolean"),
        "score": np.nan,
        "raw_score": np.nan,
        "duration_s": np.nan,
        "_graded": True,
        "_bad_id": False,
        "_bad_correct": False,
        "_apart": pd.Series(pd.NA, index=index, dtype="string"),
    }
    frame = pd.DataFrame({**empty, **columns, "source": source, "_raw_time": raw_time}, index=index)
    return frame[[*EVENT_COLUMNS[:-2], "source", "_graded", "_bad_id", "_bad_correct", "_apart", "_raw_time"]]


def _answers(question: pd.Series, **columns) -> dict:
    """The columns every answer event has: the verb and what was answered."""
    return {"verb": ANSWERED, "object_id": "question:" + question, "question_id": question, **columns}


def _non_students(user: pd.Series, course: pd.Series, students: pd.DataFrame | None) -> pd.Series:
    """True where ``user`` is not a student of ``course`` (any course when the course is 0/NULL).

    ``students`` holds (userid, courseid) of the student role assignments; None means the
    source has no roles (every user is a student)."""
    if students is None:
        return pd.Series(False, index=user.index)
    su, sc = _integers(students["userid"]), _integers(students["courseid"])
    pairs = pd.MultiIndex.from_arrays([su.fillna(-1).astype("int64"), sc.fillna(-1).astype("int64")])
    anyone = pd.Index(su.dropna().astype("int64").unique())
    u = _integers(user)
    c = _integers(course).fillna(0)
    in_course = pd.MultiIndex.from_arrays([u.fillna(-2).astype("int64"), c.astype("int64")]).isin(pairs)
    site_level = (c == 0).to_numpy()
    student = np.where(site_level, u.isin(anyone).to_numpy(), in_course)
    return pd.Series(~student, index=user.index) & u.notna()


def map_assessment(attempts: pd.DataFrame, topics: pd.Series) -> pd.DataFrame:
    """Candidate events from assessment ``attempt`` rows; ``topics`` maps question id -> topic.

    Every user of the assessment system is a student (it has no other roles)."""
    qid, aid, uid = (_integers(attempts[c]) for c in ("question_id", "id", "user_id"))
    question = qid.astype("string")
    correct = _float_col(attempts["correct"])
    return _candidates(
        attempts.index,
        source="assessment",
        raw_time=attempts["answered_at"],
        event_id="asmt:" + aid.astype("string"),
        user_id=uid,
        occurred_at=_text_time(attempts["answered_at"]),
        _bad_id=_bad_ids((attempts["id"], aid), (attempts["user_id"], uid), (attempts["question_id"], qid)),
        _bad_correct=correct.notna() & ~correct.isin([0.0, 1.0]),
        **_answers(
            question,
            topic_id=question.map(topics).astype("string"),
            success=correct == 1,
            score=correct,
            raw_score=correct,
            duration_s=_float_col(attempts["response_time_ms"]) / 1000.0,
        ),
    )


def map_moodle_log(log: pd.DataFrame, students: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidate activity events from ``logstore_standard_log`` rows; actions of users who
    are not students of the row's course are kept apart (``non_student``)."""
    action = log["action"].astype("string").str.lower()
    lid, uid, oid = _integers(log["id"]), _integers(log["userid"]), _integers(log["objectid"])
    obj = (log["objecttable"].astype("string") + ":" + oid.astype("string")).fillna(log["target"].astype("string"))
    anonymous = _int_col(_column(log, "anonymous", 0)).fillna(0) != 0
    user = uid.where(~anonymous)
    apart = _non_students(user, _column(log, "courseid", 0), students)
    return _candidates(
        log.index,
        source="moodle",
        raw_time=log["timecreated"],
        event_id="mdl-log:" + lid.astype("string"),
        user_id=user,
        occurred_at=_epoch_time(log["timecreated"]),
        verb=action.replace(_MOODLE_VERBS),
        object_id=obj,
        _bad_id=_bad_ids((log["id"], lid), (log["userid"], uid)),
        _apart=pd.Series(pd.NA, index=log.index, dtype="string").mask(apart, "non_student"),
    )


def map_moodle_answers(answers: pd.DataFrame, students: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidate answer events from Moodle question attempts at their latest graded step.

    Graded: every final state (:data:`FINAL_STATES`, manual ones included). The raw score
    is Moodle's fraction (a give-up without a fraction counts as mark 0, as Moodle sums
    it); the score is that fraction normalised between the question attempt's
    ``minfraction`` (may be negative) and ``maxfraction``; success is full marks.
    Previews and attempts of non-students are kept apart.
    """
    state = answers["state"].astype("string")
    graded = state.isin(list(FINAL_STATES)).fillna(False).astype(bool)
    fraction = _float_col(answers["fraction"])
    fraction = fraction.where(fraction.notna() | ~state.isin(list(_GAVE_UP)).fillna(False), 0.0)
    lo = _float_col(_column(answers, "minfraction", 0.0)).fillna(0.0)
    hi = _float_col(answers["maxfraction"])
    span = (hi - lo).where(hi - lo > _EPS)
    in_range = (fraction >= lo - _EPS) & (fraction <= hi + _EPS)
    score = ((fraction - lo) / span).clip(0.0, 1.0).where(in_range, (fraction - lo) / span)
    qaid, uid, qid = (_integers(answers[c]) for c in ("question_attempt_id", "userid", "questionid"))
    apart = pd.Series(pd.NA, index=answers.index, dtype="string")
    apart = apart.mask(_non_students(uid, _column(answers, "courseid", 0), students), "non_student")
    apart = apart.mask(_int_col(_column(answers, "preview", 0)).fillna(0) != 0, "preview")
    return _candidates(
        answers.index,
        source="moodle",
        raw_time=answers["timefinish"],
        event_id="mdl-qa:" + qaid.astype("string"),
        user_id=uid,
        occurred_at=_epoch_time(answers["timefinish"]),
        _graded=graded,
        _bad_id=_bad_ids((answers["question_attempt_id"], qaid), (answers["userid"], uid)),
        _apart=apart,
        **_answers(
            "mdl:" + qid.astype("string"),
            topic_id="mdl-cat:" + _id_text(answers["category"]),
            success=fraction >= hi - _EPS,
            score=score.where(graded),
            raw_score=fraction.where(graded),
        ),
    )


def canonicalize(
    candidates: pd.DataFrame,
    raw: pd.DataFrame,
    *,
    known_questions: set[str] | pd.Index,
    window: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    taken: pd.Index | None = None,
    reject_date: dt.date | None = None,
) -> Canonical:
    """Validate candidate events; return the good ones, a reject row for every bad one and
    the number of rows kept apart by kind.

    ``raw`` is the source frame the candidates were mapped from (same index), kept in the
    reject rows as JSON so nothing is lost. ``window`` is the ``[start, end)`` the rows
    were read for. ``taken``: event ids that are already events of another day (such a
    row is a ``duplicate_event_id``). Rejects are filed under ``reject_date`` (default:
    the window's first day).
    """
    c = candidates
    reason = pd.Series(pd.NA, index=c.index, dtype="string")
    detail = pd.Series(pd.NA, index=c.index, dtype="string")

    def flag(mask: pd.Series, name: str, text) -> None:
        """Give rows in ``mask`` (not yet rejected) reason ``name``; ``text(rows)`` says why."""
        mask = pd.Series(mask, index=c.index).fillna(False).astype(bool) & reason.isna()
        if not mask.any():
            return
        reason[mask] = name
        detail[mask] = text(c[mask]) if callable(text) else text

    is_answer = c["verb"] == ANSWERED
    start, end = window
    flag(c["_bad_id"] | c["event_id"].isna(), "invalid_id", "an id (row, user or question) is not a whole number")
    flag(c["user_id"].isna() | (c["user_id"] <= 0), "missing_user", "no user id (NULL, 0 or anonymous)")
    # Rows of people who are not students (and teachers' previews) are kept apart, not events.
    apart_mask = c["_apart"].notna() & reason.isna()
    apart = c.loc[apart_mask, "_apart"].value_counts().to_dict()
    for name, limit in TEXT_LIMITS.items():
        # checked on the distinct values (few: verbs, objects, topics), then looked up; rows kept
        # apart are never stored, so their text does not matter
        values = pd.unique(c[name].dropna().to_numpy(dtype=object))
        nul = [v for v in values if "\x00" in str(v)]
        long = [v for v in values if len(str(v)) > limit]
        flag(c[name].isin(nul) & ~apart_mask, "invalid_text", f"{name} contains a NUL byte")
        flag(
            c[name].isin(long) & ~apart_mask,
            "value_too_long",
            lambda r, name=name, limit=limit: (
                f"{name} longer than {limit} characters: " + r[name].astype("string").str.slice(0, 60)
            ),
        )
    reason[apart_mask & reason.isna()] = "_apart"
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
    flag(is_answer & ~c["_graded"].astype(bool), "ungraded", "latest step of the question attempt is not graded")
    flag(
        is_answer & c["_bad_correct"].astype(bool),
        "invalid_correct",
        lambda r: "correct is " + r["raw_score"].astype("string") + ", not 0 or 1",
    )
    flag(is_answer & c["score"].isna(), "invalid_score", "score/correct is missing or not a number")
    flag(
        is_answer & ((c["score"] < 0) | (c["score"] > 1)),
        "score_out_of_range",
        lambda r: "mark " + r["raw_score"].astype("string") + " is outside the question's range",
    )
    # Later copies of an id are duplicates; the first copy is the record (kept or rejected).
    flag(
        c["event_id"].duplicated(keep="first"),
        "duplicate_event_id",
        lambda r: "event id " + r["event_id"] + " seen earlier in this window",
    )
    if taken is not None and len(taken):
        flag(
            c["event_id"].isin(taken),
            "duplicate_event_id",
            lambda r: "event id " + r["event_id"] + " is already an event of another day",
        )

    good = c[reason.isna()]
    duration = good["duration_s"].astype("float64")
    implausible = duration.notna() & ((duration < 0) | (duration > MAX_DURATION_S))
    notes = {"duration_out_of_range": int(implausible.sum())} if implausible.any() else {}
    events = good.assign(
        user_id=good["user_id"].astype("int64"),
        event_date=good["occurred_at"].dt.date,
        success=good["success"].where(good["verb"] == ANSWERED).astype("boolean"),
        duration_s=duration.where(~implausible),
    )[EVENT_COLUMNS].reset_index(drop=True)

    bad = reason.notna() & (reason != "_apart")
    rejected = _rejects(c.loc[bad, "source"], c.loc[bad, "event_id"], reason[bad], detail[bad], raw.loc[bad[bad].index])
    rejected.insert(0, "event_date", reject_date or start.date())
    return Canonical(events=events, rejected=rejected, apart={str(k): int(v) for k, v in apart.items()}, notes=notes)


def _rejects(source, ref, reason, detail, raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": list(source),
            "source_ref": [None if _missing(r) else _safe_text(r, 96) for r in ref],
            "reason": list(reason),
            "detail": [None if _missing(d) else _safe_text(d, 2 * RAW_TEXT_MAX) for d in detail],
            "raw": [_raw_json(row) for row in raw.to_dict("records")],
        }
    )


def canonicalize_safely(map_rows, raw: pd.DataFrame, *, source: str, **kwargs) -> Canonical:
    """``canonicalize(map_rows(raw), raw, **kwargs)`` that cannot raise because of a row.

    When the whole frame fails, it is split in halves until the rows that fail alone are
    found; each of them becomes an ``unexpected_value`` reject with the error and its raw
    row, and the others are canonicalized as usual (ids duplicated across the halves are
    then caught again here)."""
    try:
        return canonicalize(map_rows(raw), raw, **kwargs)
    except Exception:  # noqa: BLE001 - a source row must never fail the day
        pass
    parts = _bisect(map_rows, raw, source, kwargs)
    out = Canonical.combine(parts)
    again = out.events["event_id"].duplicated(keep="first")
    if again.any():
        dup = out.events[again]
        extra = _rejects(
            dup["source"],
            dup["event_id"],
            ["duplicate_event_id"] * len(dup),
            "event id " + dup["event_id"] + " seen earlier in this window",
            dup.astype(object),
        )
        extra.insert(0, "event_date", kwargs.get("reject_date") or kwargs["window"][0].date())
        out = Canonical(
            events=out.events[~again].reset_index(drop=True),
            rejected=pd.concat([out.rejected, extra], ignore_index=True),
            apart=out.apart,
            notes=out.notes,
        )
    return out


def _bisect(map_rows, raw: pd.DataFrame, source: str, kwargs: dict) -> list[Canonical]:
    try:
        return [canonicalize(map_rows(raw), raw, **kwargs)]
    except Exception as exc:  # noqa: BLE001 - narrowed down to the row below
        if len(raw) <= 1:
            rejected = _rejects(
                [source] * len(raw),
                [None] * len(raw),
                ["unexpected_value"] * len(raw),
                [f"{type(exc).__name__}: {exc}"] * len(raw),
                raw,
            )
            rejected.insert(0, "event_date", kwargs.get("reject_date") or kwargs["window"][0].date())
            return [Canonical(pd.DataFrame(columns=EVENT_COLUMNS), rejected)]
    half = len(raw) // 2
    return _bisect(map_rows, raw.iloc[:half], source, kwargs) + _bisect(map_rows, raw.iloc[half:], source, kwargs)


def _safe_text(value, limit: int) -> str:
    """Text that any warehouse can store: NUL bytes made visible, cut at ``limit``."""
    text = str(value).replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 12] + f"...(+{len(text) - limit + 12})"


def _raw_value(value):
    if _missing(value):
        return None
    if isinstance(value, str):
        return _safe_text(value, RAW_TEXT_MAX)
    if isinstance(value, (bytes, bytearray)):
        return _safe_text(bytes(value).decode("utf-8", "replace"), RAW_TEXT_MAX)
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return str(value)
    if isinstance(value, (int, float, bool, np.integer, np.floating, np.bool_)):
        return value.item() if hasattr(value, "item") else value
    return _safe_text(value, RAW_TEXT_MAX)


def _raw_json(row: dict) -> str:
    return json.dumps({str(k): _raw_value(v) for k, v in row.items()}, sort_keys=True)


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
