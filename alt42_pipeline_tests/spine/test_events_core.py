import datetime as dt

import pandas as pd

from alt42_pipeline.spine import events as ev

DAY = dt.date(2026, 3, 2)
WINDOW = (dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 3))
NOW = dt.datetime(2026, 3, 2, 18, 0)


def _attempts(rows):
    return pd.DataFrame(rows, columns=["id", "user_id", "question_id", "correct", "answered_at", "response_time_ms"])


def test_assessment_rows_map_to_answer_events():
    raw = _attempts([(1, 7, 11, 1, "2026-03-02 10:00:00", 1500), (2, 7, 12, 0, "2026-03-02 10:01:00", None)])
    out = ev.canonicalize(
        ev.map_assessment(raw, pd.Series({"11": "algebra", "12": "geometry"})),
        raw,
        known_questions={"11", "12"},
        window=WINDOW,
        now=NOW,
    )
    assert out.rejected.empty
    e = out.events.set_index("event_id")
    assert list(e.index) == ["asmt:1", "asmt:2"]
    assert e.loc["asmt:1", "verb"] == "answered" and bool(e.loc["asmt:1", "success"]) is True
    assert e.loc["asmt:2", "score"] == 0.0 and e.loc["asmt:1", "duration_s"] == 1.5
    assert pd.isna(e.loc["asmt:2", "duration_s"])
    assert e.loc["asmt:1", "topic_id"] == "algebra"
    assert e.loc["asmt:2", "topic_id"] == "geometry"
    assert set(e.event_date) == {DAY}


def test_every_bad_row_is_rejected_with_its_reason():
    raw = _attempts(
        [
            (1, 7, 11, 1, "2026-03-02 10:00:00", 1000),  # good
            (2, None, 11, 1, "2026-03-02 10:00:00", 1000),  # missing user
            (3, 7, 11, 1, "2026-03-02 25:99:00", 1000),  # unparseable time
            (4, 7, 11, 1, "2026-03-02 23:00:00", 1000),  # future (now is 18:00)
            (5, 7, 99, 1, "2026-03-02 10:00:00", 1000),  # unknown question
            (6, 7, 11, 2, "2026-03-02 10:00:00", 1000),  # correct is neither 0 nor 1
            (7, 7, 11, None, "2026-03-02 10:00:00", 1000),  # no score
            (1, 7, 11, 0, "2026-03-02 10:05:00", 1000),  # duplicate id of row 1
            (8, 0, 11, 1, "2026-03-02 10:00:00", 1000),  # user 0 is no user
        ]
    )
    out = ev.canonicalize(
        ev.map_assessment(raw, pd.Series({"11": "t"})), raw, known_questions={"11"}, window=WINDOW, now=NOW
    )
    assert list(out.events.event_id) == ["asmt:1"]
    assert out.reject_counts == {
        "duplicate_event_id": 1,
        "future_time": 1,
        "invalid_correct": 1,
        "invalid_score": 1,
        "missing_user": 2,
        "unknown_question": 1,
        "unparseable_time": 1,
    }
    assert len(out.events) + len(out.rejected) == len(raw)
    bad_time = out.rejected[out.rejected.reason == "unparseable_time"].iloc[0]
    assert "25:99" in bad_time.detail and '"answered_at": "2026-03-02 25:99:00"' in bad_time.raw


def test_moodle_answers_use_state_and_fraction():
    answers = pd.DataFrame(
        {
            "question_attempt_id": [1, 2, 3, 4, 5],
            "userid": [5, 5, 5, 5, 5],
            "questionid": [3, 3, 3, 3, 3],
            "category": [9, 9, 9, 9, 9],
            "maxfraction": [1, 1, 1, 1, 1],
            "state": ["gradedright", "gradedwrong", "gradedpartial", "complete", "gradedright"],
            "fraction": [1.0, 0.0, 0.5, None, 1.5],
            "timefinish": [int(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC).timestamp())] * 5,
        }
    )
    out = ev.canonicalize(ev.map_moodle_answers(answers), answers, known_questions={"mdl:3"}, window=WINDOW, now=NOW)
    e = out.events.set_index("event_id")
    assert list(e.success) == [True, False, False]
    assert list(e.score) == [1.0, 0.0, 0.5]
    assert set(e.topic_id) == {"mdl-cat:9"} and set(e.question_id) == {"mdl:3"}
    assert e.occurred_at.iloc[0] == pd.Timestamp("2026-03-02 09:00")
    assert out.reject_counts == {"score_out_of_range": 1, "ungraded": 1}


def test_moodle_log_maps_actions_and_drops_anonymous_users_to_rejects():
    t = int(dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC).timestamp())
    log = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "eventname": ["\\core\\event\\user_loggedin", "\\core\\event\\course_viewed", "x"],
            "component": ["core", "core", "core"],
            "action": ["loggedin", "viewed", "viewed"],
            "target": ["user", "course", "course"],
            "objecttable": ["user", None, None],
            "objectid": [5, None, None],
            "crud": ["r", "r", "r"],
            "edulevel": [0, 2, 2],
            "userid": [5, 5, 6],
            "courseid": [0, 2, 2],
            "anonymous": [0, 0, 1],
            "timecreated": [t, t + 5, t + 9],
        }
    )
    out = ev.canonicalize(ev.map_moodle_log(log), log, known_questions=set(), window=WINDOW, now=NOW)
    assert list(out.events.verb) == ["logged_in", "viewed"]
    assert list(out.events.object_id) == ["user:5", "course"]
    assert out.reject_counts == {"missing_user": 1}
