"""The source schemas we read, as SQLAlchemy Core tables.

They describe the columns the readers rely on (the real databases have more) and are used
by the demo platform to write data the readers then ingest exactly as in production.

Assessment database (PostgreSQL in production):
    ``attempt``  one row per answer: user, question, correct (0/1), answered time,
                 response time. In production this is a view, so ids are not assumed unique.
    ``question`` the item bank: topic and a JSON ``meta`` document whose ``tags`` may
                 contain ``"anchor"`` and whose ``irt`` object holds reference parameters.

Moodle (MySQL/MariaDB, table prefix ``mdl_`` by default): the standard log store, the quiz
chain ``quiz_attempts.uniqueid -> question_attempts.questionusageid ->
question_attempt_steps.questionattemptid``, the question bank (3.x: ``question.category``;
4.x: ``question_versions -> question_bank_entries.questioncategoryid``), the role tables
(``role``, ``context``, ``role_assignments``: who is a student) and ``user_lastaccess``.
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

from ..warehouse.names import validate_prefix


@lru_cache(maxsize=4)
def assessment_tables() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "question",
        md,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("topic", sa.String(64)),
        sa.Column("meta", sa.Text),
        sa.Column("created_at", sa.DateTime),
    )
    sa.Table(
        "attempt",
        md,
        sa.Column("id", sa.BigInteger, nullable=False, index=True),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("question_id", sa.BigInteger),
        sa.Column("correct", sa.SmallInteger),
        # Text on SQLite would hide type errors; the column is a timestamp everywhere.
        sa.Column("answered_at", sa.DateTime, index=True),
        sa.Column("response_time_ms", sa.Integer),
    )
    return md


#: The Moodle versions whose question-bank layout the readers know (see ``moodle_tables``).
MOODLE_VERSIONS = (3, 4)


@lru_cache(maxsize=8)
def moodle_tables(prefix: str = "mdl_", version: int = 3) -> sa.MetaData:
    """Moodle's tables under ``prefix``. ``version`` 3: ``question.category``; 4: since
    Moodle 4.0 a question's category lives in ``question_bank_entries``, reached through
    ``question_versions``, and ``question`` has no ``category`` column."""
    if version not in MOODLE_VERSIONS:
        raise ValueError(f"Moodle version {version} is not one of {MOODLE_VERSIONS}")
    p = validate_prefix(prefix, "Moodle table prefix")
    md = sa.MetaData()
    big = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    sa.Table(
        f"{p}logstore_standard_log",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("eventname", sa.String(255), nullable=False),
        sa.Column("component", sa.String(100), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("objecttable", sa.String(50)),
        sa.Column("objectid", sa.BigInteger),
        sa.Column("crud", sa.String(1), nullable=False),
        sa.Column("edulevel", sa.SmallInteger, nullable=False),
        sa.Column("contextinstanceid", sa.BigInteger),
        sa.Column("userid", sa.BigInteger, nullable=False),
        sa.Column("courseid", sa.BigInteger),
        sa.Column("relateduserid", sa.BigInteger),
        sa.Column("anonymous", sa.SmallInteger, nullable=False, default=0),
        sa.Column("other", sa.Text),
        sa.Column("timecreated", sa.BigInteger, nullable=False),
        sa.Column("origin", sa.String(10)),
        sa.Index(f"{p}logsstanlog_tim_ix", "timecreated"),
    )
    sa.Table(
        f"{p}quiz",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("course", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(1333), nullable=False),
    )
    sa.Table(
        f"{p}quiz_attempts",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("quiz", sa.BigInteger, nullable=False),
        sa.Column("userid", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("uniqueid", sa.BigInteger, nullable=False, unique=True),
        sa.Column("preview", sa.SmallInteger, nullable=False, default=0),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("timestart", sa.BigInteger, nullable=False),
        sa.Column("timefinish", sa.BigInteger, nullable=False, default=0),
        sa.Column("timemodified", sa.BigInteger, nullable=False, default=0),
        sa.Column("sumgrades", sa.Numeric(10, 5)),
        sa.Index(f"{p}quizatte_timfin_ix", "timefinish"),
    )
    question = [
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("qtype", sa.String(20), nullable=False),
    ]
    if version == 3:
        question.insert(1, sa.Column("category", sa.BigInteger, nullable=False))
    sa.Table(f"{p}question", md, *question)
    if version == 4:
        sa.Table(
            f"{p}question_bank_entries",
            md,
            sa.Column("id", big, primary_key=True, autoincrement=True),
            sa.Column("questioncategoryid", sa.BigInteger, nullable=False),
            sa.Column("idnumber", sa.String(100)),
            sa.Column("ownerid", sa.BigInteger),
        )
        sa.Table(
            f"{p}question_versions",
            md,
            sa.Column("id", big, primary_key=True, autoincrement=True),
            sa.Column("questionbankentryid", sa.BigInteger, nullable=False),
            sa.Column("version", sa.Integer, nullable=False, default=1),
            sa.Column("questionid", sa.BigInteger, nullable=False),
            sa.Column("status", sa.String(10), nullable=False, default="ready"),
        )
    # Who is a student: the role ``student`` assigned in a course's context (contextlevel 50).
    sa.Table(
        f"{p}role",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, default=""),
        sa.Column("shortname", sa.String(100), nullable=False),
        sa.Column("archetype", sa.String(30), nullable=False, default=""),
    )
    sa.Table(
        f"{p}context",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("contextlevel", sa.BigInteger, nullable=False),
        sa.Column("instanceid", sa.BigInteger, nullable=False),
    )
    sa.Table(
        f"{p}role_assignments",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("roleid", sa.BigInteger, nullable=False),
        sa.Column("contextid", sa.BigInteger, nullable=False),
        sa.Column("userid", sa.BigInteger, nullable=False),
        sa.Column("timemodified", sa.BigInteger, nullable=False, default=0),
    )
    sa.Table(
        f"{p}question_attempts",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("questionusageid", sa.BigInteger, nullable=False, index=True),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("behaviour", sa.String(32), nullable=False),
        sa.Column("questionid", sa.BigInteger, nullable=False),
        sa.Column("maxmark", sa.Numeric(12, 7), nullable=False),
        sa.Column("minfraction", sa.Numeric(12, 7), nullable=False),
        sa.Column("maxfraction", sa.Numeric(12, 7), nullable=False, default=1),
        sa.Column("timemodified", sa.BigInteger, nullable=False),
    )
    sa.Table(
        f"{p}question_attempt_steps",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("questionattemptid", sa.BigInteger, nullable=False),
        sa.Column("sequencenumber", sa.Integer, nullable=False),
        sa.Column("state", sa.String(13), nullable=False),
        sa.Column("fraction", sa.Numeric(12, 7)),
        sa.Column("timecreated", sa.BigInteger, nullable=False),
        sa.Column("userid", sa.BigInteger),
        sa.UniqueConstraint("questionattemptid", "sequencenumber", name=f"{p}quesattestep_queseq_uix"),
    )
    sa.Table(
        f"{p}user_lastaccess",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("userid", sa.BigInteger, nullable=False),
        sa.Column("courseid", sa.BigInteger, nullable=False),
        sa.Column("timeaccess", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("userid", "courseid", name=f"{p}userlast_usecou_uix"),
    )
    return md
