"""Source databases built by hand the way real platforms fill them (not by the demo writer):
Moodle on MariaDB (3.x or 4.x question bank, roles, manual grading steps) and the assessment
database on PostgreSQL (``attempt`` is a view in production: ids not unique, ``correct``
numeric, ``answered_at`` may be NULL or infinite).

The tables are spelled out here, independently of ``alt42_pipeline.sources.schemas``, so
the tests read what a real platform holds rather than what our own writer produces."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

DAY = dt.date(2026, 3, 3)
NEXT = DAY + dt.timedelta(days=1)
NOW = dt.datetime(2026, 3, 5, 2, 10)
STUDENT, OTHER_STUDENT, TEACHER = 1001, 1002, 2001


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def epoch(day: dt.date, hour: int, minute: int = 0) -> int:
    return int(at(day, hour, minute).replace(tzinfo=dt.UTC).timestamp())


def _moodle_metadata(prefix: str, version: int) -> sa.MetaData:
    md = sa.MetaData()
    big, text = sa.BigInteger, sa.String
    sa.Table(
        f"{prefix}logstore_standard_log",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("eventname", text(255), nullable=False),
        sa.Column("component", text(100), nullable=False),
        sa.Column("action", text(100), nullable=False),
        sa.Column("target", text(100), nullable=False),
        sa.Column("objecttable", text(50)),
        sa.Column("objectid", big),
        sa.Column("crud", text(1), nullable=False),
        sa.Column("edulevel", sa.SmallInteger, nullable=False),
        sa.Column("contextinstanceid", big),
        sa.Column("userid", big, nullable=False),
        sa.Column("courseid", big),
        sa.Column("relateduserid", big),
        sa.Column("anonymous", sa.SmallInteger, nullable=False),
        sa.Column("other", sa.Text),
        sa.Column("timecreated", big, nullable=False),
        sa.Column("origin", text(10)),
    )
    sa.Table(f"{prefix}quiz", md, sa.Column("id", big, primary_key=True), sa.Column("course", big, nullable=False))
    sa.Table(
        f"{prefix}quiz_attempts",
        md,
        sa.Column("id", big, primary_key=True),
        sa.Column("quiz", big, nullable=False),
        sa.Column("userid", big, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("uniqueid", big, nullable=False, unique=True),
        sa.Column("preview", sa.SmallInteger, nullable=False),
        sa.Column("state", text(16), nullable=False),
        sa.Column("timestart", big, nullable=False),
        sa.Column("timefinish", big, nullable=False),
        sa.Column("timemodified", big, nullable=False),
        sa.Column("sumgrades", sa.Numeric(10, 5)),
    )
    question = [sa.Column("id", big, primary_key=True), sa.Column("name", text(255), nullable=False)]
    if version == 3:
        question.append(sa.Column("category", big, nullable=False))
    sa.Table(f"{prefix}question", md, *question)
    if version == 4:
        sa.Table(
            f"{prefix}question_bank_entries",
            md,
            sa.Column("id", big, primary_key=True),
            sa.Column("questioncategoryid", big, nullable=False),
            sa.Column("idnumber", text(100)),
            sa.Column("ownerid", big),
        )
        sa.Table(
            f"{prefix}question_versions",
            md,
            sa.Column("id", big, primary_key=True),
            sa.Column("questionbankentryid", big, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("questionid", big, nullable=False),
            sa.Column("status", text(10), nullable=False),
        )
    sa.Table(
        f"{prefix}question_attempts",
        md,
        sa.Column("id", big, primary_key=True),
        sa.Column("questionusageid", big, nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("behaviour", text(32), nullable=False),
        sa.Column("questionid", big, nullable=False),
        sa.Column("maxmark", sa.Numeric(12, 7), nullable=False),
        sa.Column("minfraction", sa.Numeric(12, 7), nullable=False),
        sa.Column("maxfraction", sa.Numeric(12, 7), nullable=False),
        sa.Column("timemodified", big, nullable=False),
    )
    sa.Table(
        f"{prefix}question_attempt_steps",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("questionattemptid", big, nullable=False),
        sa.Column("sequencenumber", sa.Integer, nullable=False),
        sa.Column("state", text(13), nullable=False),
        sa.Column("fraction", sa.Numeric(12, 7)),
        sa.Column("timecreated", big, nullable=False),
        sa.Column("userid", big),
    )
    sa.Table(
        f"{prefix}role",
        md,
        sa.Column("id", big, primary_key=True),
        sa.Column("name", text(255), nullable=False),
        sa.Column("shortname", text(100), nullable=False),
        sa.Column("archetype", text(30), nullable=False),
    )
    sa.Table(
        f"{prefix}context",
        md,
        sa.Column("id", big, primary_key=True),
        sa.Column("contextlevel", big, nullable=False),
        sa.Column("instanceid", big, nullable=False),
    )
    sa.Table(
        f"{prefix}role_assignments",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("roleid", big, nullable=False),
        sa.Column("contextid", big, nullable=False),
        sa.Column("userid", big, nullable=False),
        sa.Column("timemodified", big, nullable=False),
    )
    sa.Table(
        f"{prefix}user_lastaccess",
        md,
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("userid", big, nullable=False),
        sa.Column("courseid", big, nullable=False),
        sa.Column("timeaccess", big, nullable=False),
    )
    return md


class MoodleDb:
    """A Moodle database with one course (id 1), one quiz (id 1), a student and a teacher role."""

    def __init__(self, url: str, version: int = 3, prefix: str = "mdl_") -> None:
        self.engine = sa.create_engine(url)
        self.p = prefix
        self.version = version
        self.md = _moodle_metadata(prefix, version)
        self.md.create_all(self.engine)
        self._insert("role", {"id": 3, "name": "Teacher", "shortname": "editingteacher", "archetype": "editingteacher"})
        self._insert("role", {"id": 5, "name": "Student", "shortname": "student", "archetype": "student"})
        self._insert("context", {"id": 101, "contextlevel": 50, "instanceid": 1})
        self._insert("context", {"id": 1, "contextlevel": 10, "instanceid": 0})
        self._insert("quiz", {"id": 1, "course": 1})
        self._steps = 0

    def _insert(self, table: str, row: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(self.md.tables[self.p + table]), row)

    def execute(self, sql: str, params: dict | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql.replace("{p}", self.p)), params or {})

    def enrol(self, user: int, role: int = 5) -> None:
        self._insert("role_assignments", {"roleid": role, "contextid": 101, "userid": user, "timemodified": 0})

    def log(self, id: int, user: int, t: int, **columns) -> None:
        row = {
            "id": id,
            "eventname": "\\core\\event\\course_viewed",
            "component": "core",
            "action": "viewed",
            "target": "course",
            "objecttable": None,
            "objectid": None,
            "crud": "r",
            "edulevel": 2,
            "userid": user,
            "courseid": 1,
            "anonymous": 0,
            "timecreated": t,
        }
        self._insert("logstore_standard_log", row | columns)

    def question(self, id: int, category: int) -> None:
        if self.version == 3:
            self._insert("question", {"id": id, "name": f"Q{id}", "category": category})
        else:
            self._insert("question", {"id": id, "name": f"Q{id}"})
            self._insert("question_bank_entries", {"id": 500 + id, "questioncategoryid": category})
            self._insert(
                "question_versions",
                {"id": 700 + id, "questionbankentryid": 500 + id, "version": 1, "questionid": id, "status": "ready"},
            )

    def quiz_attempt(self, id: int, user: int, finish: int, state: str = "finished", preview: int = 0) -> None:
        self._insert(
            "quiz_attempts",
            {
                "id": id,
                "quiz": 1,
                "userid": user,
                "attempt": 1,
                "uniqueid": 9000 + id,
                "preview": preview,
                "state": state,
                "timestart": finish - 600,
                "timefinish": finish if state == "finished" else 0,
                "timemodified": finish,
            },
        )

    def question_attempt(
        self, id: int, quiz_attempt: int, question: int, steps: list, minfraction=0.0, maxfraction=1.0
    ) -> None:
        """``steps``: (state, fraction, time, user) from sequence number 0 on."""
        self._insert(
            "question_attempts",
            {
                "id": id,
                "questionusageid": 9000 + quiz_attempt,
                "slot": id,
                "behaviour": "deferredfeedback",
                "questionid": question,
                "maxmark": 1,
                "minfraction": minfraction,
                "maxfraction": maxfraction,
                "timemodified": max(s[2] for s in steps),
            },
        )
        for state, fraction, t, user in steps:
            self.add_step(id, state, fraction, t, user)

    def add_step(self, question_attempt: int, state: str, fraction, t: int, user: int) -> None:
        with self.engine.begin() as conn:
            seq = conn.execute(
                sa.text(
                    f"SELECT COALESCE(MAX(sequencenumber) + 1, 0) FROM {self.p}question_attempt_steps "
                    "WHERE questionattemptid = :q"
                ),
                {"q": question_attempt},
            ).scalar_one()
        self._insert(
            "question_attempt_steps",
            {
                "questionattemptid": question_attempt,
                "sequencenumber": seq,
                "state": state,
                "fraction": fraction,
                "timecreated": t,
                "userid": user,
            },
        )


class AssessmentDb:
    """The assessment database as production has it: ``attempt`` without a primary key."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE question (id BIGINT PRIMARY KEY, topic VARCHAR(64), meta TEXT)"))
            kind = "TIMESTAMP" if self.engine.dialect.name == "postgresql" else "DATETIME"
            conn.execute(
                sa.text(
                    "CREATE TABLE attempt (id BIGINT, user_id BIGINT, question_id BIGINT, correct NUMERIC(6, 3), "
                    f"answered_at {kind}, response_time_ms BIGINT)"
                )
            )

    def question(self, id, topic: str = "algebra", meta=None) -> None:
        text = meta if isinstance(meta, str) or meta is None else json.dumps(meta)
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO question VALUES (:id, :topic, :meta)"), {"id": id, "topic": topic, "meta": text}
            )

    def attempt(self, id, user, question, correct, answered_at, response_time_ms=20_000) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO attempt VALUES (:id, :u, :q, :c, :t, :rt)"),
                {"id": id, "u": user, "q": question, "c": correct, "t": answered_at, "rt": response_time_ms},
            )
