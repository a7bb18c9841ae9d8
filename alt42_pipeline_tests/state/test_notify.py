import httpx
import pytest

from alt42_pipeline.state.notify import NotificationError, post_json


def _client(answers: list, seen: list) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_transient_failures_are_retried_with_backoff():
    seen, waits = [], []
    answers = [httpx.ConnectError("refused"), 503, 200]
    post_json("http://hook/x", {"a": 1}, client=_client(answers, seen), sleep=waits.append, backoff_s=0.5)
    assert len(seen) == 3 and waits == [0.5, 1.0]
    assert seen[-1].headers["content-type"] == "application/json" and seen[-1].read() == b'{"a":1}'


def test_it_gives_up_after_the_last_attempt_naming_the_problem():
    seen = []
    with pytest.raises(NotificationError, match=r"after 3 attempt\(s\): HTTP 502"):
        post_json("http://hook/x", {}, client=_client([502, 502, 502], seen), sleep=lambda s: None)
    assert len(seen) == 3


def test_a_client_error_is_not_retried():
    seen = []
    with pytest.raises(NotificationError, match=r"after 1 attempt\(s\): HTTP 404"):
        post_json("http://hook/x", {}, client=_client([404, 200], seen), sleep=lambda s: None)
    assert len(seen) == 1
