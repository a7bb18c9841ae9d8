"""The JSON client against a real misbehaving server on 127.0.0.1: every call has an
overall deadline, and an answer that cannot be decoded is a service failure (retried)."""

from __future__ import annotations

import time

import pytest

from alt42_pipeline.http import JsonClient, ServiceUnavailable

from .faults import drip, fault_server, gzip_garbage, not_json


def test_a_dripping_server_cannot_keep_a_call_alive_past_its_deadline():
    # one byte every 0.3 s: each read is well within the 1 s timeout, the body never ends in time
    with fault_server({"/slow": drip(0.3, total_bytes=200)}) as server:
        http = JsonClient("svc", server.url, timeout_s=1.0, attempts=3, backoff_s=0.1)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="deadline") as info:
            http.request("GET", "/slow")
        elapsed = time.monotonic() - started
        http.close()
    assert info.value.attempts == 3 and server.hits("/slow") == 3
    # 3 attempts of at most 1 s and two waits (0.1 s, 0.2 s), plus scheduling slack
    assert elapsed < 3 * 1.0 + 0.3 + 1.0, elapsed


def test_the_deadline_covers_the_whole_call_too():
    with fault_server({"/slow": drip(0.3, total_bytes=200)}) as server:
        http = JsonClient("svc", server.url, timeout_s=1.0, attempts=10, backoff_s=0.1, deadline_s=2.5)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="deadline"):
            http.request("GET", "/slow")
        elapsed = time.monotonic() - started
        http.close()
    assert elapsed < 2.5 + 1.0, elapsed
    assert server.hits("/slow") < 10


@pytest.mark.parametrize("route, problem", [(gzip_garbage, "undecodable"), (not_json, "not JSON")])
def test_an_undecodable_answer_is_a_service_failure_and_is_retried(route, problem):
    with fault_server({"/x": route}) as server:
        http = JsonClient("svc", server.url, timeout_s=5.0, attempts=3, backoff_s=0.01)
        with pytest.raises(ServiceUnavailable, match=problem) as info:
            http.request_json("POST", "/x", json={"a": 1})
        http.close()
    assert info.value.attempts == 3 and server.hits("/x") == 3


def test_gzip_garbage_is_a_service_failure_even_when_json_is_not_asked_for():
    with fault_server({"/x": gzip_garbage}) as server:
        http = JsonClient("svc", server.url, timeout_s=5.0, attempts=2, backoff_s=0.01)
        with pytest.raises(ServiceUnavailable, match="undecodable"):
            http.request("POST", "/x", json={})
        http.close()
    assert server.hits("/x") == 2
