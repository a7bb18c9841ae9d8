"""Outbound JSON over HTTP: the one place the pipeline calls other services.

The IRT service, the remote recommender and the alert webhook all go through
:class:`JsonClient`, so they share one retry policy. Transport errors (timeouts, refused
connections, resets) and the statuses that mean "try again later" (:data:`RETRY_STATUSES`)
are retried with exponential backoff: ``backoff_s``, then twice that, and so on, at most
:data:`MAX_BACKOFF_S` between attempts. Any other non-2xx answer fails at once, since
asking again cannot change it. The retrying is tenacity's, not a hand-written loop.

A caller sees a 2xx :class:`httpx.Response` and parses its JSON body itself (only the
caller knows what a usable answer is), or one of two errors it maps to its own:
:class:`ServiceUnavailable` (gave up; ``problem`` is the last failure, ``"HTTP 503"`` or
``"ConnectError: ..."``) and :class:`RequestRefused` (an answer retrying cannot change).

The bearer token travels in a header of each request and is never logged, nor put in an
exception message or a ``repr``. Log lines and messages here name the service and the
method but not the URL, which can itself be a secret (webhook URLs often are).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import tenacity

log = logging.getLogger(__name__)

#: Request Timeout, Too Early, Too Many Requests and the transient server errors.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The longest wait between two attempts, however many attempts are configured.
MAX_BACKOFF_S = 30.0


class HttpCallError(RuntimeError):
    """A call that did not succeed after ``attempts`` attempts; ``problem`` is the last failure."""

    def __init__(self, service: str, method: str, attempts: int, problem: str) -> None:
        super().__init__(f"{service}: {method} failed after {attempts} attempt(s): {problem}")
        self.attempts = attempts
        self.problem = problem


class ServiceUnavailable(HttpCallError):
    """Every attempt met a transport error or a retryable status: the service is down or overloaded.

    For a transport error, ``__cause__`` is the httpx exception."""


class RequestRefused(HttpCallError):
    """The service answered with a status retrying cannot change (401, 404, 422, 501, ...)."""

    def __init__(self, service: str, method: str, attempts: int, status: int) -> None:
        super().__init__(service, method, attempts, f"HTTP {status}")
        self.status = status


class _Failure(Exception):
    """One failed attempt: what tenacity decides on (``status`` is None for a transport error)."""

    def __init__(self, problem: str, status: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Failure) and exc.retryable


class JsonClient:
    """JSON calls to one service (``service`` names it in logs and errors).

    ``url`` arguments are joined to ``base_url`` when relative (``"/healthz"``) and used as
    they are when absolute. ``transport`` replaces the network (tests pass an
    ``httpx.MockTransport``); ``client`` replaces the whole ``httpx.Client``, whose own base
    URL and timeout then apply and which its owner closes. ``sleep`` does the waiting
    between attempts (tests pass ``list.append`` to record the waits instead).
    """

    def __init__(
        self,
        service: str,
        base_url: str = "",
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        self.service = service
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._owned = client is None
        self._client = client or httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)

    def __repr__(self) -> str:
        return f"JsonClient({self.service!r})"

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, *, json: Any = None) -> httpx.Response:
        """Send ``json`` (when given) as the body, retrying as the module says; the 2xx
        response, else :class:`ServiceUnavailable` or :class:`RequestRefused`."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retryable),
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential(multiplier=self.backoff_s, max=MAX_BACKOFF_S),
            sleep=self._sleep,
            before_sleep=lambda state: self._warn(method, state),
            reraise=True,
        )
        try:
            return retrying(self._send, method, url, json)
        except _Failure as failure:
            attempts = retrying.statistics["attempt_number"]
            if failure.retryable:
                raise ServiceUnavailable(self.service, method, attempts, failure.problem) from failure.__cause__
            raise RequestRefused(self.service, method, attempts, failure.status) from None

    def _send(self, method: str, url: str, json: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, json=json, headers=self._auth)
        except httpx.TransportError as exc:
            raise _Failure(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise _Failure(f"HTTP {response.status_code}", response.status_code)
        return response

    def _warn(self, method: str, state: tenacity.RetryCallState) -> None:
        log.warning(
            "%s: %s attempt %d/%d failed (%s); retrying in %.1f s",
            self.service,
            method,
            state.attempt_number,
            self.attempts,
            state.outcome.exception().problem,
            state.next_action.sleep,
        )
