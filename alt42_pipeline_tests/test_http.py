"""The one outbound JSON client: its retry policy, its two failures, and the token kept secret."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from alt42_pipeline.http import MAX_BACKOFF_S, JsonClient, RequestRefused, ServiceUnavailable

TOKEN = "s3cret-token-value"


def scripted(answers: list, seen: list) -> httpx.MockTransport:
    """A transport answering each request with the next status, or raising the next exception."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"ok": answer})

    return httpx.MockTransport(handler)


def client(answers: list, **kwargs) -> tuple[JsonClient, list[httpx.Request], list[float]]:
    seen, waits = [], []
    kwargs = {"token": TOKEN, "backoff_s": 0.5, "sleep": waits.append} | kwargs
    return JsonClient("svc", "http://svc.test/api", transport=scripted(answers, seen), **kwargs), seen, waits


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_a_retryable_status_is_retried_with_exponential_backoff(status):
    http, seen, waits = client([status, status, 200])
    response = http.request("POST", "/calibrate", json={"a": 1})
    assert response.json() == {"ok": 200}
    assert len(seen) == 3 and waits == [0.5, 1.0]
    assert str(seen[-1].url) == "http://svc.test/api/calibrate" and json.loads(seen[-1].content) == {"a": 1}
    assert seen[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_giving_up_names_the_last_problem_and_keeps_the_transport_error():
    http, seen, waits = client([httpx.ConnectError("refused"), 503, httpx.ConnectError("refused again")])
    with pytest.raises(
        ServiceUnavailable, match=r"svc: GET failed after 3 attempt\(s\): ConnectError: refused again"
    ) as info:
        http.request("GET", "/healthz")
    assert (info.value.attempts, info.value.problem) == (3, "ConnectError: refused again")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(seen) == 3 and waits == [0.5, 1.0]

    http, _, _ = client([503, 503], attempts=2)
    with pytest.raises(ServiceUnavailable) as info:
        http.request("GET", "/healthz")
    assert (info.value.attempts, info.value.problem, info.value.__cause__) == (2, "HTTP 503", None)


@pytest.mark.parametrize("answers, attempts", [([404], 1), ([401], 1), ([501], 1), ([503, 422], 2)])
def test_an_answer_retrying_cannot_change_is_refused_at_once(answers, attempts):
    status = answers[-1]
    http, seen, waits = client(answers + [200])
    with pytest.raises(RequestRefused, match=f"after {attempts} attempt\\(s\\): HTTP {status}") as info:
        http.request("POST", "/x", json={})
    assert (info.value.status, info.value.attempts, len(seen), len(waits)) == (status, attempts, attempts, attempts - 1)


def test_waits_are_capped():
    http, _, waits = client([503] * 8, attempts=8, backoff_s=1.0)
    with pytest.raises(ServiceUnavailable):
        http.request("GET", "/x")
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, MAX_BACKOFF_S, MAX_BACKOFF_S]


def test_an_absolute_url_ignores_the_base_and_an_injected_client_stays_open():
    seen = []
    injected = httpx.Client(transport=scripted([200], seen))
    with JsonClient("hook", client=injected) as http:
        http.request("POST", "https://hooks.test/T0/secret", json={"n": 1})
    assert str(seen[0].url) == "https://hooks.test/T0/secret" and "authorization" not in seen[0].headers
    assert not injected.is_closed
    injected.close()


def test_the_token_stays_out_of_logs_messages_and_repr(caplog):
    http, _, _ = client([503, 401])
    with caplog.at_level(logging.DEBUG), pytest.raises(RequestRefused) as info:
        http.request("GET", "/x")
    assert "retrying in 0.5 s" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(info.value) and TOKEN not in repr(http)


def test_at_least_one_attempt():
    with pytest.raises(ValueError, match="at least 1"):
        JsonClient("svc", attempts=0)
