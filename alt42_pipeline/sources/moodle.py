"""Reader of Moodle (MySQL/MariaDB): the standard log store, the quiz chain, last access.

Every query takes the table prefix (``mdl_`` by default, validated as an identifier) and
reads one time window through an indexed time column.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ..settings import validate_prefix
from .query import read_frame


def _epoch(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp())


def read_log(engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """``logstore_standard_log`` rows created in ``[start, end)`` (index on timecreated)."""
    p = validate_prefix(prefix, "Moodle table prefix")
    return read_frame(
        engine,
        "SELECT id, eventname, component, action, target, objecttable, objectid, crud, edulevel, "
        f"userid, courseid, anonymous, timecreated FROM {p}logstore_standard_log "
        "WHERE timecreated >= :start AND timecreated < :end",
        {"start": _epoch(start), "end": _epoch(end)},
    )


def read_quiz_answers(engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The last step of every question attempt of finished, non-preview quiz attempts that
    finished in ``[start, end)`` (index on quiz_attempts.timefinish)."""
    p = validate_prefix(prefix, "Moodle table prefix")
    return read_frame(
        engine,
        "SELECT qa.id AS question_attempt_id, quiza.id AS quiz_attempt_id, quiza.userid, "
        "quiza.quiz, quiz.course AS courseid, qa.questionid, q.category, qa.maxfraction, "
        "qas.state, qas.fraction, qas.timecreated, quiza.timestart, quiza.timefinish "
        f"FROM {p}quiz_attempts quiza "
        f"JOIN {p}quiz quiz ON quiz.id = quiza.quiz "
        f"JOIN {p}question_attempts qa ON qa.questionusageid = quiza.uniqueid "
        f"JOIN {p}question_attempt_steps qas ON qas.questionattemptid = qa.id "
        f"LEFT JOIN {p}question q ON q.id = qa.questionid "
        "WHERE quiza.preview = 0 AND quiza.state = 'finished' "
        "AND quiza.timefinish >= :start AND quiza.timefinish < :end "
        "AND qas.sequencenumber = (SELECT MAX(s2.sequencenumber) "
        f"FROM {p}question_attempt_steps s2 WHERE s2.questionattemptid = qa.id)",
        {"start": _epoch(start), "end": _epoch(end)},
    )


def read_questions(engine: sa.Engine, prefix: str) -> pd.DataFrame:
    """The Moodle question bank: ``id``, ``category``."""
    p = validate_prefix(prefix, "Moodle table prefix")
    return read_frame(engine, f"SELECT id, category FROM {p}question ORDER BY id")


def read_last_access(engine: sa.Engine, prefix: str) -> pd.DataFrame:
    """``user_lastaccess``: the last access of each user to each course (epoch seconds)."""
    p = validate_prefix(prefix, "Moodle table prefix")
    return read_frame(engine, f"SELECT userid, courseid, timeaccess FROM {p}user_lastaccess")
