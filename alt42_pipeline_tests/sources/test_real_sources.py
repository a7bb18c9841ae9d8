"""Issue 12: the sources as real platforms fill them, on real databases built by each test
(Moodle on MariaDB, the assessment database on PostgreSQL or SQLite, the warehouse on
PostgreSQL). One test per numbered behaviour of the issue; each failed before the fix."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from alt42_pipeline import settings
from alt42_pipeline.reports.status import format_status, gather
from alt42_pipeline.sources import Sources
from alt42_pipeline.spine import ingest_day, refresh_catalogue, refresh_features
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.sources.real_shaped import (
    DAY,
    NEXT,
    NOW,
    OTHER_STUDENT,
    STUDENT,
    TEACHER,
    AssessmentDb,
    MoodleDb,
    at,
    epoch,
)


@pytest.fixture
def warehouse(pg_url):
    wh = Warehouse(pg_url)
    wh.migrate()
    yield wh
    wh.engine.dispose()


@pytest.fixture
def moodle(mysql_url):
    db = MoodleDb(mysql_url)
    db.enrol(STUDENT)
    db.enrol(OTHER_STUDENT)
    db.enrol(TEACHER, role=3)
    db.question(31, category=7)
    yield db
    db.engine.dispose()


@pytest.fixture
def assessment(pg_url):
    db = AssessmentDb(pg_url)
    db.question(11, "algebra", {"tags": ["practice"]})
    yield db
    db.engine.dispose()


def _ingest(wh, sources, *days):
    refresh_catalogue(wh, sources, NOW)
    return [ingest_day(wh, sources, day, NOW) for day in days]


def _events(wh, day=None) -> pd.DataFrame:
    frame = wh.read("events", {"event_date": day} if day else None)
    return frame.set_index("event_id").sort_index()


def _rejects(wh, day) -> dict[str, int]:
    return wh.read("rejected_events", {"event_date": day})["reason"].value_counts().to_dict()


def _balanced(result) -> None:
    for source, kinds in result.accounting.items():
        apart = sum(n for k, n in kinds.items() if k.startswith("apart:"))
        assert kinds["read"] == kinds["events"] + kinds["rejected"] + kinds["updated"] + apart, (source, kinds)


# -- 1. one bad source row never fails the day ------------------------------------------------


def test_1_moodle_rows_too_long_for_the_warehouse_or_with_a_nul_byte_are_rejects(warehouse, moodle):
    t = epoch(DAY, 9)
    moodle.log(1, STUDENT, t)
    moodle.log(2, STUDENT, t + 1, action="x" * 40)  # verb is 32 characters in the warehouse
    moodle.log(3, STUDENT, t + 2, action="vie\x00wed")  # PostgreSQL text cannot hold NUL
    moodle.log(4, STUDENT, t + 3, objecttable=None, target="t" * 100)  # object_id is 96 characters
    sources = Sources(None, moodle.engine)
    for _ in range(2):  # and the retry gives the same day
        (result,) = _ingest(warehouse, sources, DAY)
        assert list(_events(warehouse).index) == ["mdl-log:1"]
        assert _rejects(warehouse, DAY) == {"value_too_long": 2, "invalid_text": 1}
        _balanced(result)
    raw = warehouse.read("rejected_events")
    nul = raw[raw.reason == "invalid_text"].iloc[0]
    assert nul.raw["action"] == "vie\\x00wed" and nul.source_ref == "mdl-log:3"


def test_1_the_same_assessment_attempt_id_on_two_days_is_a_reject_not_a_key_violation(warehouse, assessment):
    assessment.attempt(7, STUDENT, 11, 1, at(DAY, 10))
    assessment.attempt(7, STUDENT, 11, 0, at(NEXT, 10))  # the production `attempt` view repeats ids
    assessment.attempt(8, STUDENT, 11, 1, at(NEXT, 11))
    sources = Sources(assessment.engine, None)
    for _ in range(2):
        first, second = _ingest(warehouse, sources, DAY, NEXT)
        assert list(_events(warehouse, DAY).index) == ["asmt:7"]
        assert list(_events(warehouse, NEXT).index) == ["asmt:8"]
        assert _rejects(warehouse, NEXT) == {"duplicate_event_id": 1}
        _balanced(second)
    assert bool(_events(warehouse).loc["asmt:7", "success"]) is True  # the first one ingested stays


def test_1_non_integer_ids_in_a_sqlite_source_are_rejects(tmp_path, warehouse):
    db = AssessmentDb(f"sqlite:///{tmp_path / 'assessment.db'}")
    db.question(11)
    db.attempt(1, STUDENT, 11, 1, "2026-03-03 10:00:00")
    db.attempt("abc", STUDENT, 11, 1, "2026-03-03 10:01:00")
    db.attempt(3, STUDENT, "12.5", 1, "2026-03-03 10:02:00")
    db.attempt(4, "x", 11, 1, "2026-03-03 10:03:00")
    (result,) = _ingest(warehouse, Sources(db.engine, None), DAY)
    assert list(_events(warehouse).index) == ["asmt:1"]
    assert _rejects(warehouse, DAY) == {"invalid_id": 3}
    _balanced(result)


# -- 2. rows without a usable time are counted -------------------------------------------------


def test_2_attempts_with_null_or_infinite_time_are_counted_every_run_and_shown(warehouse, assessment):
    assessment.attempt(1, STUDENT, 11, 1, at(DAY, 10))
    assessment.attempt(2, STUDENT, 11, 1, None)
    with assessment.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO attempt VALUES (3, 1001, 11, 1, 'infinity', 1000)"))
        conn.execute(sa.text("INSERT INTO attempt VALUES (4, 1001, 11, 1, '-infinity', 1000)"))
    (result,) = _ingest(warehouse, Sources(assessment.engine, None), DAY)
    assert result.accounting["assessment"]["without_time"] == 3
    assert result.without_time == {"assessment": 3}
    stored = warehouse.read("ingest_accounting", {"kind": "without_time"})
    assert stored["rows"].tolist() == [3]
    assert "3 without a usable time" in format_status(gather(warehouse, NOW))


# -- 3. impossible values never become facts -------------------------------------------------


def test_3_impossible_response_times_are_null_and_half_a_correct_is_a_reject(warehouse, assessment):
    assessment.attempt(1, STUDENT, 11, 1, at(DAY, 10), response_time_ms=30_000)
    assessment.attempt(2, STUDENT, 11, 0, at(DAY, 10, 5), response_time_ms=-500)
    assessment.attempt(3, STUDENT, 11, 1, at(DAY, 10, 10), response_time_ms=24 * 86_400_000)
    assessment.attempt(4, STUDENT, 11, 0.5, at(DAY, 10, 15))
    (result,) = _ingest(warehouse, Sources(assessment.engine, None), DAY)
    events = _events(warehouse)
    assert list(events.index) == ["asmt:1", "asmt:2", "asmt:3"]
    assert events.loc["asmt:1", "duration_s"] == 30.0
    assert events[["duration_s"]].loc[["asmt:2", "asmt:3"]].isna().all().all()
    assert _rejects(warehouse, DAY) == {"invalid_correct": 1}
    assert result.accounting["assessment"]["note:duration_out_of_range"] == 2
    features = refresh_features(warehouse, DAY, NOW)
    assert features["mean_response_time_s"].tolist() == [30.0]
    _balanced(result)


# -- 4. regrades and late finishes reach the warehouse ----------------------------------------


def test_4_a_manual_regrade_and_a_late_finish_on_the_next_day_update_the_earlier_event(warehouse, moodle):
    moodle.quiz_attempt(1, STUDENT, epoch(DAY, 10))
    moodle.question_attempt(
        1,
        1,
        31,
        [
            ("todo", None, epoch(DAY, 9, 50), STUDENT),
            ("complete", None, epoch(DAY, 9, 55), STUDENT),
            ("gradedwrong", 0.0, epoch(DAY, 10), STUDENT),
        ],
    )
    moodle.quiz_attempt(2, STUDENT, epoch(DAY, 23, 30), state="inprogress")
    moodle.question_attempt(
        2, 2, 31, [("todo", None, epoch(DAY, 23), STUDENT), ("complete", None, epoch(DAY, 23, 20), STUDENT)]
    )
    sources = Sources(None, moodle.engine)
    _ingest(warehouse, sources, DAY)
    assert bool(_events(warehouse).loc["mdl-qa:1", "success"]) is False
    assert "mdl-qa:2" not in _events(warehouse).index

    # next day: the teacher grades question attempt 1 right; the overdue attempt 2 is closed by
    # Moodle's cron with its due time (on DAY) as timefinish
    moodle.add_step(1, "mangrright", 1.0, epoch(NEXT, 9), TEACHER)
    moodle.execute("UPDATE {p}question_attempts SET timemodified = :t WHERE id = 1", {"t": epoch(NEXT, 9)})
    moodle.execute("UPDATE {p}quiz_attempts SET timemodified = :t WHERE id = 1", {"t": epoch(NEXT, 9)})
    moodle.add_step(2, "gradedright", 1.0, epoch(NEXT, 0, 30), STUDENT)
    moodle.execute(
        "UPDATE {p}quiz_attempts SET state = 'finished', timefinish = :f, timemodified = :t WHERE id = 2",
        {"f": epoch(DAY, 23, 30), "t": epoch(NEXT, 0, 30)},
    )
    (result,) = [ingest_day(warehouse, sources, NEXT, NOW)]
    events = _events(warehouse, DAY)
    assert bool(events.loc["mdl-qa:1", "success"]) is True and events.loc["mdl-qa:1", "score"] == 1.0
    assert bool(events.loc["mdl-qa:2", "success"]) is True
    assert result.updated == 2 and result.accounting["moodle"]["updated"] == 2
    _balanced(result)
    # the change is read once: re-running the next day gives the same warehouse
    before = warehouse.read("events").sort_values("event_id").reset_index(drop=True)
    ingest_day(warehouse, sources, NEXT, NOW)
    pd.testing.assert_frame_equal(warehouse.read("events").sort_values("event_id").reset_index(drop=True), before)


# -- 5. negative marks and teacher-commented give-ups ------------------------------------------


def test_5_negative_and_partial_marks_are_normalised_and_mangaveup_is_graded(warehouse, moodle):
    moodle.quiz_attempt(1, STUDENT, epoch(DAY, 10))
    t = epoch(DAY, 10)
    moodle.question_attempt(
        1, 1, 31, [("todo", None, t - 60, STUDENT), ("gradedwrong", -0.5, t, STUDENT)], minfraction=-0.5
    )
    moodle.question_attempt(
        2, 1, 31, [("todo", None, t - 60, STUDENT), ("gradedpartial", 0.25, t, STUDENT)], minfraction=-0.5
    )
    moodle.question_attempt(
        3, 1, 31, [("todo", None, t - 60, STUDENT), ("gaveup", None, t, STUDENT), ("mangaveup", None, t + 60, TEACHER)]
    )
    moodle.question_attempt(
        4, 1, 31, [("todo", None, t - 60, STUDENT), ("gradedright", 1.0, t, STUDENT)], minfraction=-0.5
    )
    (result,) = _ingest(warehouse, Sources(None, moodle.engine), DAY)
    e = _events(warehouse)
    assert e.loc["mdl-qa:1", "score"] == 0.0 and e.loc["mdl-qa:1", "raw_score"] == -0.5
    assert e.loc["mdl-qa:2", "score"] == pytest.approx(0.5) and e.loc["mdl-qa:2", "raw_score"] == 0.25
    assert e.loc["mdl-qa:3", "score"] == 0.0 and bool(e.loc["mdl-qa:3", "success"]) is False
    assert e.loc["mdl-qa:4", "score"] == 1.0 and bool(e.loc["mdl-qa:4", "success"]) is True
    assert _rejects(warehouse, DAY) == {}
    _balanced(result)


# -- 6. Moodle 4.x ---------------------------------------------------------------------------


def test_6_a_moodle_4_question_bank_is_read_through_question_bank_entries(warehouse, mysql_url):
    db = MoodleDb(mysql_url, version=4)
    db.enrol(STUDENT)
    db.question(31, category=7)
    db.quiz_attempt(1, STUDENT, epoch(DAY, 10))
    db.question_attempt(
        1, 1, 31, [("todo", None, epoch(DAY, 9), STUDENT), ("gradedright", 1.0, epoch(DAY, 10), STUDENT)]
    )
    sources = Sources(None, db.engine)
    (result,) = _ingest(warehouse, sources, DAY)
    assert sources.moodle_version() == 4
    assert warehouse.read("questions").set_index("question_id").loc["mdl:31", "topic_id"] == "mdl-cat:7"
    assert _events(warehouse).loc["mdl-qa:1", "topic_id"] == "mdl-cat:7"
    _balanced(result)
    db.engine.dispose()


# -- 7. teachers are kept apart ----------------------------------------------------------------


def test_7_teachers_actions_and_previews_are_kept_apart_not_events(warehouse, moodle):
    t = epoch(DAY, 10)
    moodle.log(1, STUDENT, t)
    moodle.log(
        2,
        TEACHER,
        t + 5,
        eventname="\\mod_quiz\\event\\question_manually_graded",
        action="manually",
        target="question",
        objecttable="question",
        objectid=31,
    )
    moodle.log(3, TEACHER, t + 6, courseid=0, action="loggedin", target="user")  # site level: no course role
    moodle.quiz_attempt(1, TEACHER, t)  # a teacher trying the quiz for real
    moodle.question_attempt(1, 1, 31, [("todo", None, t - 60, TEACHER), ("gradedright", 1.0, t, TEACHER)])
    moodle.quiz_attempt(2, TEACHER, t, preview=1)
    moodle.question_attempt(2, 2, 31, [("todo", None, t - 60, TEACHER), ("gradedright", 1.0, t, TEACHER)])
    moodle.quiz_attempt(3, STUDENT, t)
    moodle.question_attempt(3, 3, 31, [("todo", None, t - 60, STUDENT), ("gradedright", 1.0, t, STUDENT)])
    (result,) = _ingest(warehouse, Sources(None, moodle.engine), DAY)
    events = _events(warehouse)
    assert set(events["user_id"]) == {STUDENT}
    assert list(events.index) == ["mdl-log:1", "mdl-qa:3"]
    assert result.kept_apart == {"non_student": 3, "preview": 1}
    assert result.accounting["moodle"]["apart:non_student"] == 3
    _balanced(result)


# -- 8. the catalogue never crashes ------------------------------------------------------------


def test_8_bad_question_meta_is_recorded_and_anchors_are_validated(warehouse, assessment):
    good_anchor = {"tags": ["anchor"], "irt": {"a": 1.2, "b": 0.3}}
    assessment.question(12, meta={"tags": ["anchor"], "irt": {"a": "abc", "b": 0}})
    assessment.question(13, meta={"irt": [1, 2]})
    assessment.question(14, meta={"tags": ["anchor"], "irt": {"a": -1.2, "b": 0.3}})
    assessment.question(15, meta={"tags": "not-an-anchor", "irt": {"a": 1.0, "b": 0.0}})
    assessment.question(16, meta=good_anchor)
    assessment.question(17, meta="{not json")
    assessment.attempt(1, STUDENT, 13, 1, at(DAY, 10))
    sources = Sources(assessment.engine, None)
    (result,) = _ingest(warehouse, sources, DAY)
    questions = warehouse.read("questions").set_index("question_id")
    assert sorted(questions.index) == ["11", "12", "13", "14", "15", "16", "17"]
    assert questions.index[questions.is_anchor].tolist() == ["16"]
    problems = warehouse.read("catalogue_problems").set_index("question_id")
    assert problems["problem"].to_dict() == {
        "12": "invalid_irt",
        "13": "invalid_irt",
        "14": "invalid_anchor",
        "15": "tags_not_a_list",
        "17": "unparseable_meta",
    }
    assert "slope" in problems.loc["14", "detail"]
    assert list(_events(warehouse).index) == ["asmt:1"]  # a question with bad meta still takes answers
    text = format_status(gather(warehouse, NOW))
    assert "invalid_anchor 1" in text and "unparseable_meta 1" in text
    assert json.loads(json.dumps(result.accounting))  # plain numbers


# -- 9. an empty source URL is a source not read -----------------------------------------------


def test_9_an_empty_source_url_is_not_read_even_when_the_default_file_exists(tmp_path, monkeypatch, sqlite_url):
    from alt42_pipeline.defs.resources import build_resources

    data = tmp_path / "data"
    data.mkdir()
    default_moodle = MoodleDb(f"sqlite:///{data / 'moodle.db'}")
    default_moodle.question(31, category=7)
    asmt = AssessmentDb(f"sqlite:///{data / 'assessment.db'}")
    asmt.question(11)
    monkeypatch.setenv("ALT42_DATA_DIR", str(data))
    monkeypatch.setenv("ALT42_MOODLE_URL", "")
    settings.load.cache_clear()
    s = settings.load()
    assert s.sources.moodle_url == ""
    assert s.sources.assessment_url.endswith("assessment.db")  # unset: the default
    sources = build_resources(s)["sources"].get()
    assert sources.moodle is None
    wh = Warehouse(sqlite_url)
    wh.migrate()
    refresh_catalogue(wh, sources, NOW)
    assert set(wh.read("questions")["source"]) == {"assessment"}
    (result,) = [ingest_day(wh, sources, DAY, NOW)]
    assert set(result.accounting) == {"assessment"}
    wh.engine.dispose()
    default_moodle.engine.dispose()
    asmt.engine.dispose()


def test_4_a_quiz_attempt_finished_again_on_a_later_day_moves_its_answers_there(warehouse, moodle):
    moodle.quiz_attempt(1, STUDENT, epoch(DAY, 10))
    moodle.question_attempt(
        1, 1, 31, [("todo", None, epoch(DAY, 9), STUDENT), ("gradedwrong", 0.0, epoch(DAY, 10), STUDENT)]
    )
    sources = Sources(None, moodle.engine)
    _ingest(warehouse, sources, DAY)
    # re-opened by the teacher and finished again the next day (a new timefinish)
    moodle.add_step(1, "gradedright", 1.0, epoch(NEXT, 11), STUDENT)
    moodle.execute(
        "UPDATE {p}quiz_attempts SET timefinish = :t, timemodified = :t WHERE id = 1", {"t": epoch(NEXT, 11)}
    )
    (result,) = [ingest_day(warehouse, sources, NEXT, NOW)]
    assert "mdl-qa:1" not in _events(warehouse, DAY).index
    assert bool(_events(warehouse, NEXT).loc["mdl-qa:1", "success"]) is True
    assert result.accounting["moodle"]["moved"] == 1 and _rejects(warehouse, NEXT) == {}
    _balanced(result)
