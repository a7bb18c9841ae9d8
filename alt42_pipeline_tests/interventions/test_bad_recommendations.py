"""A remote recommender (a real server on 127.0.0.1) answering one student with an absurd
value fails that student only: the others are stored, the bad one is in intervention_errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from alt42_pipeline.interventions import Recommendation, RuleRecommender
from alt42_pipeline.interventions.batch import run_batch
from alt42_pipeline.interventions.remote import RemoteRecommender
from alt42_pipeline.interventions.required_records import parse_required_records
from alt42_pipeline.settings import DEFAULT_REQUIRED_RECORDS

from ..faults import fault_server, send_json
from .builders import day_of_study, write_events

DAY = dt.date(2026, 11, 21)
GROUPS = parse_required_records(DEFAULT_REQUIRED_RECORDS)
#: user_id -> what the recommender answers for that student (the others get a good answer)
BAD = {
    2: {"priority": 10**30},
    3: {"message": "hello\x00world"},
    4: {"message": "x" * 100_000},
    5: {"code": "keep\ngoing"},
    6: {"priority": -1},
    7: {"message": "lone surrogate \ud800 here"},
    8: {"code": "c" * 200},
    9: {"priority": 2.5},
}
GOOD_IDS = [1, 10, 11]


def recommender_route(handler, body: bytes) -> None:
    students = json.loads(body)["students"]
    recs = []
    for s in students:
        rec = {"user_id": s["user_id"], "code": "keep_going", "message": "Keep the rhythm going.", "priority": 3}
        rec.update(BAD.get(s["user_id"], {}))
        recs.append(rec)
    send_json(handler, 200, {"version": "m-9", "recommendations": recs})


def test_one_bad_answer_fails_that_student_only(warehouse):
    users = GOOD_IDS + sorted(BAD)
    write_events(warehouse, [row for u in users for row in day_of_study(u, DAY, [True, False])])
    with fault_server({"/recommend": recommender_route}) as server:
        with RemoteRecommender(f"{server.url}/recommend", "tok-123456", attempts=1) as remote:
            report = run_batch(warehouse, DAY, remote, GROUPS, run_id="r1")
    assert (report.processed, report.failed) == (len(GOOD_IDS), len(BAD))
    stored = warehouse.read("interventions")
    assert sorted(stored["user_id"]) == GOOD_IDS
    errors = warehouse.read("intervention_errors").set_index("user_id")
    assert sorted(errors.index) == sorted(BAD)
    assert "priority must be an integer from 1 to 9" in errors.loc[2, "message"]
    assert "control character" in errors.loc[3, "message"]
    assert "at most" in errors.loc[4, "message"] and len(errors.loc[4, "message"]) < 500
    assert "code" in errors.loc[5, "message"]
    assert all(len(m) < 500 for m in errors["message"])


class _Faulty:
    """A recommender (any implementation) returning unusable values for some students."""

    name, version = "faulty", "1"

    def recommend_many(self, students):
        out = []
        for s in students:
            bad = BAD.get(s["user_id"], {})
            rec = {"code": "keep_going", "message": "ok", "priority": 3} | bad
            out.append(Recommendation(rec["code"], rec["message"], rec["priority"]))
        return out


@pytest.mark.parametrize("recommender", [_Faulty()], ids=["custom"])
def test_every_recommender_is_validated_not_only_the_remote_one(warehouse, recommender):
    users = GOOD_IDS + sorted(BAD)
    write_events(warehouse, [row for u in users for row in day_of_study(u, DAY, [True, False])])
    report = run_batch(warehouse, DAY, recommender, GROUPS, run_id="r2")
    assert (report.processed, report.failed) == (len(GOOD_IDS), len(BAD))
    assert sorted(warehouse.read("interventions")["user_id"]) == GOOD_IDS


def test_the_builtin_recommender_passes_its_own_validation(warehouse):
    write_events(warehouse, [row for u in GOOD_IDS for row in day_of_study(u, DAY, [True] * 6)])
    report = run_batch(warehouse, DAY, RuleRecommender(), GROUPS)
    assert report.failed == 0 and report.processed == len(GOOD_IDS)
