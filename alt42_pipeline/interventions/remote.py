"""A recommender behind an HTTP endpoint (``ALT42_RECOMMENDER=remote``).

Protocol: ``POST <url>`` with ``{"students": [<student inputs>, ...]}`` and, when a token is
set, ``Authorization: Bearer <token>``. The answer is ``{"version": "...",
"recommendations": [{"user_id", "code", "message", "priority"} or {"user_id", "error"}]}``,
one entry per student. The call goes through :class:`alt42_pipeline.http.JsonClient`:
timeouts, connection errors and 408/425/429/500/502/503/504 answers are retried with
exponential backoff (:class:`RecommenderUnavailable` once every attempt failed); other
error answers are not, since retrying cannot help (:class:`RecommenderRejected`). The
token never appears in an error message, a log line or ``repr``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ..http import JsonClient, RequestRefused, ServiceUnavailable
from ..redaction import safe_url, shown
from .recommender import Recommendation, StudentInputs, validate_recommendation


class RecommenderUnavailable(RuntimeError):
    """The endpoint did not answer usefully after every attempt."""


class RecommenderRejected(RuntimeError):
    """The endpoint refused the request (an answer retrying cannot change, such as 401 or 422)."""


class RecommenderResponseError(ValueError):
    """The endpoint answered, but not with a usable recommendation."""


class RemoteRecommender:
    name = "remote"

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url:
            raise ValueError("the remote recommender needs a URL (ALT42_RECOMMENDER_URL)")
        self.url = url
        self.version = "unknown"
        self._http = JsonClient(
            "recommender",
            token=token,
            timeout_s=timeout_s,
            attempts=attempts,
            backoff_s=backoff_s,
            transport=transport,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"RemoteRecommender(url={safe_url(self.url)!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteRecommender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recommend_many(self, students: Sequence[StudentInputs]) -> list[Recommendation | Exception]:
        if not students:
            return []
        body = self._post({"students": list(students)})
        if isinstance(body.get("version"), str):
            self.version = body["version"][:32]
        entries = body.get("recommendations")
        if not isinstance(entries, list):
            raise RecommenderResponseError("the answer has no 'recommendations' list")
        by_user: dict[Any, Any] = {}
        for entry in entries:
            if isinstance(entry, dict) and "user_id" in entry:
                by_user[entry["user_id"]] = entry
        return [_result(s["user_id"], by_user.get(s["user_id"])) for s in students]

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        where = safe_url(self.url)  # the URL itself may hold a secret: messages show its host
        try:
            body = self._http.request_json("POST", self.url, json=payload)
        except ServiceUnavailable as exc:
            raise RecommenderUnavailable(
                f"recommender at {where}: call failed after {exc.attempts} attempts ({exc.problem})"
            ) from None
        except RequestRefused as exc:
            raise RecommenderRejected(f"recommender at {where} refused the request: HTTP {exc.status}") from None
        if not isinstance(body, dict):
            raise RecommenderResponseError(f"recommender at {where} answered with a non-object")
        return body


def _result(user_id: Any, entry: dict[str, Any] | None) -> Recommendation | Exception:
    """One student's entry as a Recommendation (the batch checks its values against the
    documented bounds), or the error for that student."""
    if entry is None:
        return RecommenderResponseError(f"no recommendation for student {user_id} in the answer")
    if "error" in entry:
        return RecommenderResponseError(f"recommender error for student {user_id}: {shown(entry['error'], 200)}")
    code, message, priority = entry.get("code"), entry.get("message"), entry.get("priority")
    if not (
        isinstance(code, str)
        and code
        and isinstance(message, str)
        and isinstance(priority, int)
        and not isinstance(priority, bool)
    ):
        return RecommenderResponseError(
            f"recommendation for student {user_id} needs a code, a message and an integer priority"
        )
    try:
        return validate_recommendation(Recommendation(code, message, priority))
    except ValueError as exc:
        return RecommenderResponseError(f"recommendation for student {user_id}: {exc}")
