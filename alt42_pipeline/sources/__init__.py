"""The source databases as one value: :class:`Sources` (engines and the Moodle prefix).

The readers (``assessment``, ``moodle``) know the real schemas (``schemas``); :class:`Sources`
is what the rest of the code holds and passes on as one argument. A source whose URL is
empty is not read: its engine is None and its readers give empty frames. A SQLite source
must exist: a misspelt path would otherwise become a new, empty database read as "no rows".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from ..warehouse import make_engine
from ..warehouse.names import validate_prefix
from . import assessment, moodle


@dataclass(frozen=True)
class Sources:
    """The assessment database and Moodle (either may be None: not read)."""

    assessment: sa.Engine | None
    moodle: sa.Engine | None
    moodle_prefix: str = "mdl_"

    def __post_init__(self) -> None:
        validate_prefix(self.moodle_prefix, "Moodle table prefix")

    @classmethod
    def connect(cls, assessment_url: str, moodle_url: str, moodle_prefix: str = "mdl_") -> Sources:
        """Engines for the URLs (one per URL per process); an empty URL is a source not read."""
        _must_exist(assessment_url, "the assessment database (ALT42_ASSESSMENT_URL)")
        _must_exist(moodle_url, "Moodle's database (ALT42_MOODLE_URL)")
        return cls(
            assessment=_engine(assessment_url) if assessment_url else None,
            moodle=_engine(moodle_url) if moodle_url else None,
            moodle_prefix=moodle_prefix,
        )

    # -- the assessment database -------------------------------------------------------------
    def assessment_questions(self) -> pd.DataFrame:
        if self.assessment is None:
            return pd.DataFrame(columns=["id", "topic", "meta"])
        return assessment.read_questions(self.assessment)

    def attempts(self, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        return assessment.read_attempts(self.assessment, start, end)

    def attempts_without_time(self) -> int:
        """Attempts no day can read (``answered_at`` NULL or infinite): counted, not lost."""
        return 0 if self.assessment is None else assessment.count_attempts_without_time(self.assessment)

    # -- Moodle --------------------------------------------------------------------------------
    def moodle_version(self) -> int:
        """3 or 4: the question-bank layout of this Moodle (detected, see ``moodle.schema_version``)."""
        return moodle.schema_version(self.moodle, self.moodle_prefix)

    def moodle_questions(self) -> pd.DataFrame:
        if self.moodle is None:
            return pd.DataFrame(columns=["id", "category"])
        return moodle.read_questions(self.moodle, self.moodle_prefix)

    def moodle_students(self) -> pd.DataFrame:
        """(userid, courseid) of every student role assignment in a course."""
        return moodle.read_students(self.moodle, self.moodle_prefix)

    def moodle_changes(self, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        """Answers of earlier quiz attempts modified in ``[start, end)`` (regrades, late finishes)."""
        return moodle.read_quiz_changes(self.moodle, self.moodle_prefix, start, end)

    def moodle_log(self, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        return moodle.read_log(self.moodle, self.moodle_prefix, start, end)

    def moodle_answers(self, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        return moodle.read_quiz_answers(self.moodle, self.moodle_prefix, start, end)

    def last_access(self) -> pd.DataFrame:
        return moodle.read_last_access(self.moodle, self.moodle_prefix)


class SourceError(ValueError):
    """A source that cannot be read as configured; the message names its setting."""


def _must_exist(url: str, what: str) -> None:
    if not url:
        return
    parsed = sa.engine.make_url(url)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" and not Path(path).exists():
        raise SourceError(f"{what}: the SQLite file {path} does not exist")


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    return make_engine(url)


__all__ = ["SourceError", "Sources"]
