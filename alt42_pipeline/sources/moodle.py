"""Reader of Moodle (MySQL/MariaDB): the standard log store, the quiz chain, last access.

Every query takes the table prefix (``mdl_`` by default; :class:`~alt42_pipeline.sources.Sources`
validated it as an identifier) and reads one time window through an indexed time column.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from .query import read_frame


def _epoch(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp())


def read_log(engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """``logstore_standard_log`` rows created in ``[start, end)`` (index on timecreated)."""
    return read_frame(
        engine,
        "SELECT id, eventname, component, action, target, objecttable, objectid, crud, edulevel, "
        f"userid, courseid, anonymous, timecreated FROM {prefix}logstore_standard_log "
        "WHERE timecreated >= :start AND timecreated < :end",
        {"start": _epoch(start), "end": _epoch(end)},
    )


def read_quiz_answers(engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The last step of every question attempt of finished, non-preview quiz attempts that
    finished in ``[start, end)`` (index on quiz_attempts.timefinish)."""
    return read_frame(
        engine,
        "SELECT qa.id AS question_attempt_id, quiza.id AS quiz_attempt_id, quiza.userid, "
        "quiza.quiz, quiz.course AS courseid, qa.questionid, q.category, qa.maxfraction, "
        "qas.state, qas.fraction, qas.timecreated, quiza.timestart, quiza.timefinish "
        f"FROM {prefix}quiz_attempts quiza "
        f"JOIN {prefix}quiz quiz ON quiz.id = quiza.quiz "
        f"JOIN {prefix}question_attempts qa ON qa.questionusageid = quiza.uniqueid "
        f"JOIN {prefix}question_attempt_steps qas ON qas.questionattemptid = qa.id "
        f"LEFT JOIN {prefix}question q ON q.id = qa.questionid "
        "WHERE quiza.preview = 0 AND quiza.state = 'finished' "
        "AND quiza.timefinish >= :start AND quiza.timefinish < :end "
        "AND qas.sequencenumber = (SELECT MAX(s2.sequencenumber) "
        f"FROM {prefix}question_attempt_steps s2 WHERE s2.questionattemptid = qa.id)",
        {"start": _epoch(start), "end": _epoch(end)},
    )


def read_questions(engine: sa.Engine, prefix: str) -> pd.DataFrame:
    """The Moodle question bank: ``id``, ``category``."""
    return read_frame(engine, f"SELECT id, category FROM {prefix}question ORDER BY id")


def read_last_access(engine: sa.Engine, prefix: str) -> pd.DataFrame:
    """``user_lastaccess``: the last access of each user to each course (epoch seconds)."""
    return read_frame(engine, f"SELECT userid, courseid, timeaccess FROM {prefix}user_lastaccess")
