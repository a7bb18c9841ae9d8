"""The item catalogue (``questions``) from both sources' question banks (pure: no I/O).

A question is never lost and never stops the catalogue: a question whose ``meta`` cannot be
used is kept (topic, source) with a recorded *problem* (``catalogue_problems``, shown by
``status``):

``unparseable_meta``   ``meta`` is not a JSON object
``tags_not_a_list``    ``meta.tags`` is not a list (a lone string counts as one tag)
``invalid_irt``        ``meta.irt`` is not an object, or a parameter is not a finite number
                       (no reference parameters are kept; an anchor tag is not used)
``invalid_anchor``     tagged ``anchor`` but its parameters are outside the accepted
                       ranges: the question is kept as a plain item (``is_anchor`` false)
``anchor_without_reference``  tagged ``anchor`` without a slope and an intercept
``invalid_id``         a Moodle question or category id that is not a whole number

An anchor is a question whose tags contain exactly ``"anchor"`` (no substring match) and
whose reference parameters pass: slope ``a`` in :data:`ANCHOR_SLOPE_RANGE`, difficulty
``b`` (or ``-d/a``) in :data:`ANCHOR_DIFFICULTY_RANGE`, guessing ``c`` (if given) in [0, 0.5).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field

import pandas as pd

from ..irt.model import b_from_d, d_from_b

#: Accepted slopes of a reference anchor (a negative or near-zero slope cannot link scales).
ANCHOR_SLOPE_RANGE = (0.2, 4.0)
#: Accepted difficulties of a reference anchor, on its reference scale.
ANCHOR_DIFFICULTY_RANGE = (-6.0, 6.0)
PROBLEM_COLUMNS = ["question_id", "problem", "source", "detail"]


@dataclass
class CatalogueResult:
    rows: int
    anchors: int
    by_source: dict[str, int]
    problems: dict[str, list[str]] = field(default_factory=dict)


class _Problem(ValueError):
    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem


def _number(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Problem("invalid_irt", f"irt.{name} is {value!r}, not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Problem("invalid_irt", f"irt.{name} is {str(value)[:40]!r}, not a number") from None
    if not math.isfinite(number):
        raise _Problem("invalid_irt", f"irt.{name} is {value!r}, not a finite number")
    return number


def _reference(meta: dict) -> tuple[float | None, float | None, float | None, float | None]:
    """(a, d, b, c) of ``meta.irt``; raises :class:`_Problem` when they cannot be used."""
    irt = meta.get("irt")
    if irt is None:
        return None, None, None, None
    if not isinstance(irt, dict):
        raise _Problem("invalid_irt", f"irt is a {type(irt).__name__}, not an object")
    a, b, d, c = (_number(irt.get(k), k) for k in ("a", "b", "d", "c"))
    if a is not None and d is None and b is not None:
        d = float(d_from_b(a, b))
    if a and b is None and d is not None:
        b = float(b_from_d(a, d))
    return a, d, b, c


def _anchor_problem(a, b, c) -> str | None:
    lo, hi = ANCHOR_SLOPE_RANGE
    if not lo <= a <= hi:
        return f"slope a={a:g} outside [{lo:g}, {hi:g}]"
    lo, hi = ANCHOR_DIFFICULTY_RANGE
    if b is None or not lo <= b <= hi:
        return f"difficulty b={b} outside [{lo:g}, {hi:g}]"
    if c is not None and not 0.0 <= c < 0.5:
        return f"guessing c={c:g} outside [0, 0.5)"
    return None


def _meta(raw) -> tuple[dict | None, tuple[str, str] | None]:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None, None
    try:
        meta = json.loads(raw) if isinstance(raw, (str, bytes)) else dict(raw)
    except (ValueError, TypeError) as exc:
        return None, ("unparseable_meta", f"meta is not JSON: {str(exc)[:80]}")
    if not isinstance(meta, dict):
        return None, ("unparseable_meta", f"meta is a {type(meta).__name__}, not an object")
    return meta, None


def _assessment_row(q, problems: list[tuple[str, str, str]]):
    qid = str(q.id)
    meta, problem = _meta(q.meta)
    if problem:
        problems.append((qid, *problem))
    meta = meta or {}
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        problems.append((qid, "tags_not_a_list", f"tags is the string {tags[:40]!r}, read as one tag"))
        tags = [tags]
    elif not isinstance(tags, list):
        problems.append((qid, "tags_not_a_list", f"tags is a {type(tags).__name__}"))
        tags = []
    is_anchor = any(isinstance(t, str) and t == "anchor" for t in tags)
    try:
        a, d, b, c = _reference(meta)
    except _Problem as exc:
        problems.append((qid, exc.problem, str(exc) + ("; not used as an anchor" if is_anchor else "")))
        return (qid, q.topic, "assessment", False, None, None, None, None, meta or None)
    if is_anchor:
        if a is None or d is None:
            problems.append((qid, "anchor_without_reference", "tagged anchor without a slope and an intercept"))
        elif (why := _anchor_problem(a, b, c)) is not None:
            problems.append((qid, "invalid_anchor", why + "; kept as a plain item"))
            is_anchor = False
    return (qid, q.topic, "assessment", is_anchor, a, d, b, c, meta or None)


def _whole(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def build_catalogue(
    asmt_questions: pd.DataFrame, moodle_questions: pd.DataFrame, now: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Catalogue rows, and the problems found (one row per question and problem)."""
    problems: list[tuple[str, str, str]] = []
    rows = []
    for q in asmt_questions.itertuples(index=False):
        qid = _whole(q.id)
        if qid is None:
            problems.append((str(q.id)[:64], "invalid_id", f"question id {str(q.id)[:40]!r} is not a whole number"))
            continue
        try:
            rows.append(_assessment_row(q._replace(id=qid), problems))
        except Exception as exc:  # noqa: BLE001 - one question never stops the catalogue
            problems.append((str(qid), "unparseable_meta", f"{type(exc).__name__}: {str(exc)[:80]}"))
            rows.append((str(qid), q.topic, "assessment", False, None, None, None, None, None))
    mproblems: list[tuple[str, str, str]] = []
    for q in moodle_questions.itertuples(index=False):
        qid, cat = _whole(q.id), _whole(q.category)
        if qid is None:
            mproblems.append((f"mdl:{str(q.id)[:56]}", "invalid_id", "question id is not a whole number"))
            continue
        if cat is None:
            mproblems.append((f"mdl:{qid}", "invalid_id", f"category {q.category!r} is not a whole number"))
        topic = f"mdl-cat:{cat}" if cat is not None else None
        rows.append((f"mdl:{qid}", topic, "moodle", False, None, None, None, None, None))
    frame = pd.DataFrame(
        rows, columns=["question_id", "topic_id", "source", "is_anchor", "ref_a", "ref_d", "ref_b", "ref_c", "meta"]
    )
    frame = frame.drop_duplicates("question_id", keep="first")
    frame["updated_at"] = now
    found = pd.DataFrame(
        [(q, p, "assessment", d) for q, p, d in problems] + [(q, p, "moodle", d) for q, p, d in mproblems],
        columns=PROBLEM_COLUMNS,
    ).drop_duplicates(["question_id", "problem"], keep="first")
    return frame, found
