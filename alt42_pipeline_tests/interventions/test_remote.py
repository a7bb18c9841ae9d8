"""The remote recommender's protocol and failure modes (the HTTP service is faked)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import threading
import time

import httpx
import pytest

from alt42_pipeline import settings
from alt42_pipeline.interventions import Recommendation, build_recommender
from alt42_pipeline.interventions.batch import run_batch
from alt42_pipeline.interventions.remote import (
    RecommenderRejected,
    RecommenderResponseError,
    RecommenderUnavailable,
    RemoteRecommender,
)
from alt42_pipeline.interventions.required_records import parse_required_records
from alt42_pipeline.settings import DEFAULT_REQUIRED_RECORDS

from .builders import day_of_study, write_events

URL = "https://recommender.test/v1/recommend"
TOKEN = "s3cret-token-value"
STUDENTS = [{"user_id": 1, "today": {}}, {"user_id": 2, "today": {}}]


def answer_all(request: httpx.Request) -> httpx.Response:
    students = json.loads(request.content)["students"]
    recs = [
        {"user_id": s["user_id"], "code": "keep_going", "message": f"hi {s['user_id']}", "priority": 3}
        for s in students
    ]
    return httpx.Response(200, json={"version": "m-7", "recommendations": recs})


def client(handler, **kwargs) -> tuple[RemoteRecommender, list[float]]:
    sleeps: list[float] = []
    kwargs = {"attempts": 3, "backoff_s": 0.5} | kwargs
    return RemoteRecommender(URL, TOKEN, transport=httpx.MockTransport(handler), sleep=sleeps.append, **kwargs), sleeps


def test_a_successful_call_sends_the_students_and_the_token():
    seen = []

    def handler(request):
        seen.append(request)
        return answer_all(request)

    remote, sleeps = client(handler)
    assert remote.recommend_many(STUDENTS) == [
        Recommendation("keep_going", "hi 1", 3),
        Recommendation("keep_going", "hi 2", 3),
    ]
    assert remote.version == "m-7"
    [request] = seen
    assert request.method == "POST" and request.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"students": STUDENTS}
    assert sleeps == []


def test_server_errors_are_retried_with_backoff_then_succeed():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(503) if len(calls) < 3 else answer_all(request)

    remote, sleeps = client(handler)
    assert len(remote.recommend_many(STUDENTS)) == 2
    assert len(calls) == 3 and sleeps == [0.5, 1.0]


def test_timeouts_on_every_attempt_make_the_call_unavailable(caplog):
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    remote, sleeps = client(handler)
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(RecommenderUnavailable, match=r"call failed after 3 attempts \(ReadTimeout"),
    ):
        remote.recommend_many(STUDENTS)
    assert len(calls) == 3 and len(sleeps) == 2
    assert TOKEN not in caplog.text and "retrying" in caplog.text


def test_a_refused_request_is_not_retried_and_the_token_stays_secret():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(401, json={"detail": "bad token"})

    remote, _ = client(handler)
    with pytest.raises(RecommenderRejected, match="HTTP 401") as info:
        remote.recommend_many(STUDENTS)
    assert len(calls) == 1
    assert TOKEN not in str(info.value) and TOKEN not in repr(remote)


@pytest.mark.parametrize(
    "response, fragment",
    [
        (httpx.Response(200, json=[1, 2]), "non-object"),
        (httpx.Response(200, json={"version": "x"}), "no 'recommendations' list"),
    ],
)
def test_unusable_answers_are_response_errors(response, fragment):
    remote, _ = client(lambda request: response)
    with pytest.raises(RecommenderResponseError, match=fragment):
        remote.recommend_many(STUDENTS)


def test_a_body_that_is_not_json_is_a_service_failure_and_is_retried():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(200, text="<html>oops</html>")

    remote, sleeps = client(handler)
    with pytest.raises(RecommenderUnavailable, match="after 3 attempts.*not JSON"):
        remote.recommend_many(STUDENTS)
    assert len(calls) == 3 and sleeps == [0.5, 1.0]


def test_per_student_errors_and_gaps_fail_only_those_students():
    def handler(request):
        return httpx.Response(
            200,
            json={
                "recommendations": [
                    {"user_id": 1, "error": "model has no data"},
                    {"user_id": 3, "code": "keep_going", "message": "m", "priority": "high"},
                    {"user_id": 4, "code": "keep_going", "message": "m", "priority": 2},
                ]
            },
        )

    remote, _ = client(handler)
    students = [{"user_id": u} for u in (1, 2, 3, 4)]
    results = remote.recommend_many(students)
    assert isinstance(results[0], RecommenderResponseError) and "model has no data" in str(results[0])
    assert isinstance(results[1], RecommenderResponseError) and "no recommendation for student 2" in str(results[1])
    assert isinstance(results[2], RecommenderResponseError) and "integer priority" in str(results[2])
    assert results[3] == Recommendation("keep_going", "m", 2)


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        time.sleep(0.5)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_timeout_applies_to_a_real_slow_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.block_on_close = False  # do not wait for the sleeping handler when closing
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/recommend"
        with RemoteRecommender(url, timeout_s=0.05, attempts=2, backoff_s=0) as remote:
            with pytest.raises(RecommenderUnavailable, match="after 2 attempts.*(Timeout|deadline)"):
                remote.recommend_many(STUDENTS)
    finally:
        server.shutdown()
        server.server_close()


def test_a_chunk_the_service_fails_is_recorded_and_other_chunks_are_stored(warehouse):
    day = dt.date(2026, 11, 21)
    write_events(warehouse, [row for u in (1, 2, 3) for row in day_of_study(u, day, [True])])

    def handler(request):
        students = json.loads(request.content)["students"]
        return httpx.Response(502) if any(s["user_id"] == 2 for s in students) else answer_all(request)

    remote, _ = client(handler, attempts=2)
    report = run_batch(warehouse, day, remote, parse_required_records(DEFAULT_REQUIRED_RECORDS), run_id="r", chunk=1)
    assert (report.processed, report.failed) == (2, 1)
    errors = warehouse.read("intervention_errors")
    assert errors["user_id"].tolist() == [2]
    assert "call failed after 2 attempts (HTTP 502)" in errors["message"][0]
    stored = warehouse.read("interventions")
    assert sorted(stored["user_id"]) == [1, 3] and set(stored["recommender_version"]) == {"m-7"}


def load_interventions():
    """The intervention settings as the environment has them now."""
    settings.load.cache_clear()
    return settings.load().interventions


def test_settings_choose_the_recommender(monkeypatch):
    assert build_recommender(load_interventions()).name == "builtin-rules"
    monkeypatch.setenv("ALT42_RECOMMENDER", "remote")
    with pytest.raises(ValueError, match="needs a URL"):
        build_recommender(load_interventions())
    monkeypatch.setenv("ALT42_RECOMMENDER_URL", URL)
    monkeypatch.setenv("ALT42_RECOMMENDER_TOKEN", TOKEN)
    options = load_interventions()
    assert TOKEN not in repr(options)
    with build_recommender(options) as remote:
        assert isinstance(remote, RemoteRecommender)
    monkeypatch.setenv("ALT42_RECOMMENDER", "magic")
    with pytest.raises(ValueError, match="builtin' or 'remote'"):
        load_interventions()
    monkeypatch.setenv("ALT42_RECOMMENDER", "builtin")
    monkeypatch.setenv("ALT42_RECOMMENDER_ATTEMPTS", "0")
    with pytest.raises(ValueError, match="ALT42_RECOMMENDER_ATTEMPTS must be a positive int"):
        load_interventions()
