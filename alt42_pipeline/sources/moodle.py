"""Reader of Moodle (MySQL/MariaDB): the standard log store, the quiz chain, the question
bank (3.x and 4.x layouts), who is a student, last access.

Every query takes the table prefix (``mdl_`` by default; :class:`~alt42_pipeline.sources.Sources`
validated it as an identifier) and reads one time window through a time column.

Answers: one row per question attempt of a finished quiz attempt, at its *latest graded
step* (:data:`FINAL_STATES`; a question attempt without one gives its last step, which the
mapping rejects as ``ungraded``). Previews are read too (and kept apart by the mapping), so
every row of the window is accounted for.

Changes after a day was ingested (a teacher's manual grading, a regrade, an attempt that
finished late with an earlier ``timefinish``) are found through Moodle's modification times:
:func:`read_quiz_changes` reads the question attempts of quiz attempts finished *before* the
window whose ``quiz_attempts.timemodified`` or ``question_attempts.timemodified`` falls *in*
it. Unchanged days are never read again.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from .query import read_frame

#: Step states that end a question attempt with a mark (or a give-up), manual ones included.
FINAL_STATES = (
    "gradedright",
    "gradedpartial",
    "gradedwrong",
    "gaveup",
    "mangrright",
    "mangrpartial",
    "mangrwrong",
    "mangaveup",
)
#: Moodle's context level of a course (``CONTEXT_COURSE``).
CONTEXT_COURSE = 50
#: The role whose holders are students (Moodle's default ``student`` archetype).
STUDENT_ROLE = "student"


def _epoch(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp())


def schema_version(engine: sa.Engine, prefix: str) -> int:
    """4 when the question bank has ``question_bank_entries`` (Moodle 4.0+), else 3."""
    return 4 if sa.inspect(engine).has_table(f"{prefix}question_bank_entries") else 3


def _category(prefix: str, version: int, question_id: str) -> tuple[str, str]:
    """(the category expression, the joins it needs) for the question id ``question_id``."""
    if version == 4:
        return "qbe.questioncategoryid", (
            f"LEFT JOIN {prefix}question_versions qv ON qv.questionid = {question_id} "
            f"LEFT JOIN {prefix}question_bank_entries qbe ON qbe.id = qv.questionbankentryid "
        )
    return "q.category", f"LEFT JOIN {prefix}question q ON q.id = {question_id} "


def read_log(engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """``logstore_standard_log`` rows created in ``[start, end)`` (index on timecreated)."""
    return read_frame(
        engine,
        "SELECT id, eventname, component, action, target, objecttable, objectid, crud, edulevel, "
        f"userid, courseid, anonymous, timecreated FROM {prefix}logstore_standard_log "
        "WHERE timecreated >= :start AND timecreated < :end",
        {"start": _epoch(start), "end": _epoch(end)},
    )


def _answers_sql(prefix: str, version: int, where: str) -> str:
    category, joins = _category(prefix, version, "qa.questionid")
    final = ", ".join(f"'{s}'" for s in FINAL_STATES)
    steps = f"FROM {prefix}question_attempt_steps s2 WHERE s2.questionattemptid = qa.id"
    return (
        "SELECT qa.id AS question_attempt_id, quiza.id AS quiz_attempt_id, quiza.userid, "
        f"quiza.quiz, quiz.course AS courseid, qa.questionid, {category} AS category, "
        "qa.minfraction, qa.maxfraction, qas.state, qas.fraction, qas.timecreated, "
        "quiza.preview, quiza.timestart, quiza.timefinish, quiza.timemodified "
        f"FROM {prefix}quiz_attempts quiza "
        f"JOIN {prefix}quiz quiz ON quiz.id = quiza.quiz "
        f"JOIN {prefix}question_attempts qa ON qa.questionusageid = quiza.uniqueid "
        f"JOIN {prefix}question_attempt_steps qas ON qas.questionattemptid = qa.id "
        f"{joins}"
        f"WHERE quiza.state = 'finished' AND {where} "
        f"AND qas.sequencenumber = COALESCE((SELECT MAX(s2.sequencenumber) {steps} AND s2.state IN ({final})), "
        f"(SELECT MAX(s2.sequencenumber) {steps}))"
    )


def read_quiz_answers(
    engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime, version: int | None = None
) -> pd.DataFrame:
    """Every question attempt of the finished quiz attempts that finished in ``[start, end)``
    (index on quiz_attempts.timefinish), at its latest graded step."""
    version = version or schema_version(engine, prefix)
    where = "quiza.timefinish >= :start AND quiza.timefinish < :end"
    return read_frame(engine, _answers_sql(prefix, version, where), {"start": _epoch(start), "end": _epoch(end)})


def read_quiz_changes(
    engine: sa.Engine, prefix: str, start: dt.datetime, end: dt.datetime, version: int | None = None
) -> pd.DataFrame:
    """Question attempts of quiz attempts finished before ``start`` and modified in
    ``[start, end)`` (quiz attempt or question attempt): regrades and late finishes."""
    version = version or schema_version(engine, prefix)
    where = (
        "quiza.timefinish < :start AND ((quiza.timemodified >= :start AND quiza.timemodified < :end) "
        "OR (qa.timemodified >= :start AND qa.timemodified < :end))"
    )
    return read_frame(engine, _answers_sql(prefix, version, where), {"start": _epoch(start), "end": _epoch(end)})


def read_questions(engine: sa.Engine, prefix: str, version: int | None = None) -> pd.DataFrame:
    """The Moodle question bank: ``id``, ``category`` (3.x or 4.x layout)."""
    version = version or schema_version(engine, prefix)
    category, joins = _category(prefix, version, "qq.id")
    joins = joins.replace(f"LEFT JOIN {prefix}question q ON q.id = qq.id ", "")
    category = "qq.category" if version == 3 else category
    return read_frame(engine, f"SELECT qq.id, {category} AS category FROM {prefix}question qq {joins}ORDER BY qq.id")


def read_students(engine: sa.Engine, prefix: str) -> pd.DataFrame:
    """``userid``, ``courseid`` of every student role assignment in a course context."""
    return read_frame(
        engine,
        "SELECT DISTINCT ra.userid, ctx.instanceid AS courseid "
        f"FROM {prefix}role_assignments ra "
        f"JOIN {prefix}role r ON r.id = ra.roleid "
        f"JOIN {prefix}context ctx ON ctx.id = ra.contextid "
        f"WHERE r.shortname = '{STUDENT_ROLE}' AND ctx.contextlevel = {CONTEXT_COURSE}",
    )


def read_last_access(engine: sa.Engine, prefix: str) -> pd.DataFrame:
    """``user_lastaccess``: the last access of each user to each course (epoch seconds)."""
    return read_frame(engine, f"SELECT userid, courseid, timeaccess FROM {prefix}user_lastaccess")
