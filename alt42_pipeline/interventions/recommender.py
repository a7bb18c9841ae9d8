"""Recommenders: what to suggest to a student, given what the batch knows about them.

A recommender takes a list of *student inputs* (plain JSON-ready dicts, see
:func:`alt42_pipeline.interventions.batch.student_inputs`) and returns, in the same order,
a :class:`Recommendation` or the exception that prevented one, so one student's failure
is recorded without losing the others. :class:`RuleRecommender` ships by default: a few
deterministic rules over the day's activity, state, weekly KPIs, weak topics and ability.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..redaction import shown
from ..state.machine import AT_RISK

StudentInputs = dict[str, Any]

#: Priorities: 1 needs attention now, 2 this week, 3 encouragement.
HIGH, MEDIUM, LOW = 1, 2, 3
#: The documented bounds of a recommendation (every recommender's, built-in or remote):
#: a priority from 1 (most urgent) to 9, a code of at most 48 letters, digits, ``_ . : -``,
#: a non-empty message of at most 2000 characters of printable text (newlines and tabs
#: allowed; no NUL or other control character, no unpaired surrogate).
PRIORITY_RANGE = (1, 9)
CODE_MAX = 48
MESSAGE_MAX = 2000
_CODE = re.compile(r"[A-Za-z0-9_.:-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidRecommendation(ValueError):
    """A recommendation outside the documented bounds; the message says which value and why."""


@dataclass(frozen=True)
class Recommendation:
    code: str
    message: str
    priority: int


def validate_recommendation(rec: object) -> Recommendation:
    """Return ``rec`` if every value is within the documented bounds, else raise
    :class:`InvalidRecommendation` (the values are shown cut short)."""
    if not isinstance(rec, Recommendation):
        raise InvalidRecommendation(f"a recommender returned {type(rec).__name__}, not a Recommendation")
    problems = []
    code, message, priority = rec.code, rec.message, rec.priority
    if not isinstance(code, str) or not _CODE.fullmatch(code) or len(code) > CODE_MAX:
        problems.append(f"code must be 1 to {CODE_MAX} letters, digits or _.:- , not {shown(code)}")
    if not isinstance(message, str) or not message.strip():
        problems.append("message must be non-empty text")
    elif len(message) > MESSAGE_MAX:
        problems.append(f"message must be at most {MESSAGE_MAX} characters, not {len(message)}")
    elif _CONTROL.search(message):
        problems.append(f"message must not contain a control character (found in {shown(message, 40)})")
    elif not _encodable(message):
        problems.append("message is not valid Unicode text (unpaired surrogate)")
    low, high = PRIORITY_RANGE
    if not (isinstance(priority, int) and not isinstance(priority, bool) and low <= priority <= high):
        problems.append(f"priority must be an integer from {low} to {high}, not {shown(priority, 24)}")
    if problems:
        raise InvalidRecommendation("; ".join(problems))
    return rec


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Recommender(Protocol):
    name: str
    version: str

    def recommend_many(self, students: Sequence[StudentInputs]) -> list[Recommendation | Exception]:
        """One result per student, in order: a recommendation or the error for that student."""
        ...


#: States of the student state machine that call for a tutor (named by the machine, so a
#: state the machine never assigns cannot slip in here).
RISK_STATES = frozenset({AT_RISK})
#: A day counts when it has at least MIN_ATTEMPTS answers; its accuracy is then bad below
#: BAD_DAY_ACCURACY, low below LOW_DAY_ACCURACY and strong from STRONG_DAY_ACCURACY.
MIN_ATTEMPTS = 5
BAD_DAY_ACCURACY = 0.5
LOW_DAY_ACCURACY = 0.6
STRONG_DAY_ACCURACY = 0.85
SHORT_SESSION_S = 600.0


class RuleRecommender:
    """The built-in recommender: the first rule that applies wins."""

    name = "builtin-rules"
    version = "1"

    def recommend_many(self, students: Sequence[StudentInputs]) -> list[Recommendation | Exception]:
        results: list[Recommendation | Exception] = []
        for student in students:
            try:
                results.append(self.recommend(student))
            except Exception as exc:  # noqa: BLE001 - recorded per student by the batch
                results.append(exc)
        return results

    def recommend(self, student: StudentInputs) -> Recommendation:
        today = student["today"]
        state = student.get("state") or {}
        weak = student.get("weak_topics") or []
        ability = student.get("ability") or {}
        kpis = student.get("kpis") or {}
        attempts, accuracy = today["attempts"], today["accuracy"]
        counted = attempts >= MIN_ATTEMPTS and accuracy is not None

        if state.get("state") in RISK_STATES:
            recent = state.get("recent_accuracy")
            detail = f" (recent accuracy {_pct(recent)})." if recent is not None else "."
            return Recommendation("tutor_check_in", f"State is {state['state']}: a tutor should check in{detail}", HIGH)
        if weak:
            topic = weak[0]
            urgent = counted and accuracy < BAD_DAY_ACCURACY
            return Recommendation(
                "review_weak_topic",
                f"Review topic {topic['topic_id']}: {_pct(topic['accuracy'])} correct over "
                f"{topic['attempts']} recent attempts.",
                HIGH if urgent else MEDIUM,
            )
        if counted and accuracy < LOW_DAY_ACCURACY:
            return Recommendation(
                "revisit_basics",
                f"Only {_pct(accuracy)} of {attempts} answers were correct: revisit the basics first.",
                MEDIUM,
            )
        if today["time_on_task_s"] < SHORT_SESSION_S and attempts < MIN_ATTEMPTS:
            days = kpis.get("active_days")
            suffix = f" ({days} active days this week)." if days is not None else "."
            return Recommendation(
                "practice_more",
                f"A short session ({attempts} attempts): aim for a longer daily practice{suffix}",
                MEDIUM,
            )
        theta = ability.get("theta")
        if counted and accuracy >= STRONG_DAY_ACCURACY and (theta is None or theta >= 0):
            return Recommendation(
                "increase_challenge",
                f"{_pct(accuracy)} correct over {attempts} attempts: move on to harder items.",
                LOW,
            )
        return Recommendation("keep_going", f"{attempts} attempts today: keep the rhythm going.", LOW)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
