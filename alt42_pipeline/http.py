"""Outbound JSON over HTTP: the one place the pipeline calls other services.

The IRT service, the remote recommender and the alert webhook all go through
:class:`JsonClient`, so they share one retry policy. Transport errors (timeouts, refused
connections, resets) and the statuses that mean "try again later" (:data:`RETRY_STATUSES`)
are retried with exponential backoff: ``backoff_s``, then twice that, and so on, at most
:data:`MAX_BACKOFF_S` between attempts. Any other non-2xx answer fails at once, since
asking again cannot change it. The retrying is tenacity's, not a hand-written loop.

Every call has deadlines, not just httpx's timeouts (which bound each network read, so a
server dripping one byte a second keeps a read alive for ever): one attempt, from connecting
to the last byte of the body, ends after ``timeout_s``; the whole call, attempts and waits
included, after ``deadline_s`` (default: every attempt's timeout plus the waits between
them). An attempt past its deadline is a failure like a timeout, and retried.

An answer whose body cannot be decoded (a ``Content-Encoding`` it does not have, a JSON
body that is not JSON) is a failure of the service like a 503: retried, then
:class:`ServiceUnavailable`. :meth:`JsonClient.request` returns the 2xx
:class:`httpx.Response` with its body read and decoded; :meth:`JsonClient.request_json`
also parses the JSON body within the attempt and returns it. Only the caller knows what a
usable answer is beyond that. Errors: :class:`ServiceUnavailable` (gave up; ``problem`` is
the last failure, ``"HTTP 503"``, ``"ConnectError: ..."``, ``"deadline: ..."``,
``"undecodable body: ..."``) and :class:`RequestRefused` (an answer retrying cannot change).

The bearer token travels in a header of each request and is never logged, nor put in an
exception message or a ``repr``. Log lines and messages here name the service and the
method but not the URL, which can itself be a secret (webhook URLs often are); httpx's own
request log lines go through :mod:`alt42_pipeline.redaction`'s filter.
"""

from __future__ import annotations

import json as jsonlib
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import tenacity

from . import redaction

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


def _abort(response: httpx.Response) -> None:
    """Close a response's connection from another thread: its socket is shut down, so a
    worker blocked reading it wakes up at once."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


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
        deadline_s: float | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        self.service = service
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        if deadline_s is not None and deadline_s <= 0:
            raise ValueError(f"deadline_s must be positive, not {deadline_s}")
        #: None: the call is bounded by its attempts (each at most timeout_s) and the waits
        self.deadline_s = deadline_s
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
        response with its body read, else :class:`ServiceUnavailable` or :class:`RequestRefused`."""
        return self._call(method, url, json, parse=False)[0]

    def request_json(self, method: str, url: str, *, json: Any = None) -> Any:
        """Like :meth:`request`, and the answer's JSON body parsed within the attempt: a body
        that is not JSON is a failure of the service, retried like a 503."""
        return self._call(method, url, json, parse=True)[1]

    def _call(self, method: str, url: str, json: Any, parse: bool) -> tuple[httpx.Response, Any]:
        stop = tenacity.stop_after_attempt(self.attempts)
        call_deadline = None
        if self.deadline_s is not None:
            call_deadline = time.monotonic() + self.deadline_s
            stop = stop | tenacity.stop_before_delay(self.deadline_s)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retryable),
            stop=stop,
            wait=tenacity.wait_exponential(multiplier=self.backoff_s, max=MAX_BACKOFF_S),
            sleep=self._sleep,
            before_sleep=lambda state: self._warn(method, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, url, json, parse, call_deadline)
        except _Failure as failure:
            attempts = retrying.statistics["attempt_number"]
            if failure.retryable:
                raise ServiceUnavailable(self.service, method, attempts, failure.problem) from failure.__cause__
            raise RequestRefused(self.service, method, attempts, failure.status) from None

    def _attempt(
        self, method: str, url: str, json: Any, parse: bool, call_deadline: float | None
    ) -> tuple[httpx.Response, Any]:
        """One attempt, in a worker thread so that it ends at its deadline whatever the server
        does; a worker left behind ends at its next network read (the socket is shut down)."""
        limit = self.timeout_s
        if call_deadline is not None:
            limit = min(limit, call_deadline - time.monotonic())
            if limit <= 0:
                raise _Failure(f"deadline: the call's {self.deadline_s:g} s are spent")
        outcome: dict[str, Any] = {}
        responses: list[httpx.Response] = []
        worker = threading.Thread(
            target=self._exchange, args=(method, url, json, parse, outcome, responses), daemon=True
        )
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            for response in responses:
                _abort(response)
            reason = "the call's deadline" if limit < self.timeout_s else "the attempt's timeout"
            raise _Failure(f"deadline: no complete answer within {limit:.3g} s ({reason})")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"], outcome.get("body")

    def _exchange(self, method: str, url: str, json: Any, parse: bool, outcome: dict, responses: list) -> None:
        try:
            outcome["response"], outcome["body"] = self._send(method, url, json, parse, responses)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc

    def _send(
        self, method: str, url: str, json: Any, parse: bool, responses: list[httpx.Response]
    ) -> tuple[httpx.Response, Any]:
        try:
            request = self._client.build_request(method, url, json=json, headers=self._auth)
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Failure(f"{type(exc).__name__}: {redaction.redact(str(exc))}") from exc
        responses.append(response)
        try:
            if not response.is_success:
                raise _Failure(f"HTTP {response.status_code}", response.status_code)
            try:
                response.read()
            except httpx.DecodingError as exc:
                raise _Failure(f"undecodable body: {redaction.shown(str(exc))}") from None
            except httpx.TransportError as exc:
                raise _Failure(f"{type(exc).__name__}: {redaction.redact(str(exc))}") from exc
            except zlib.error as exc:
                raise _Failure(f"undecodable body: {exc}") from None
            if not parse:
                return response, None
            try:
                return response, jsonlib.loads(response.content)
            except (ValueError, UnicodeDecodeError) as exc:
                raise _Failure(f"undecodable body: not JSON ({type(exc).__name__})") from None
        finally:
            response.close()

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
