"""What stands in front of every endpoint: the bearer token, the request size and the rate.

The token (``ALT42_API_TOKEN``) is compared in constant time (HMAC digests of both sides, so
not even its length shows in the timing) and never logged or echoed: a refusal says only that
the token is missing or wrong. Bodies over ``ALT42_API_MAX_BODY_BYTES`` are refused with 413
before the application reads them, whether announced by ``Content-Length`` or streamed. Each
client address gets ``ALT42_API_RATE_PER_MINUTE`` requests a minute (a token bucket: bursts up
to that many, refilled continuously), then 429 with ``Retry-After``; ``/healthz`` is exempt so
that probes never starve.
"""

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

#: Paths served without a token and outside the rate limit (the probes').
OPEN_PATHS = ("/healthz",)
#: Client buckets kept before idle ones are dropped.
MAX_CLIENTS = 10_000


def bearer_token(token: SecretStr) -> Callable:
    """A FastAPI dependency that lets a request through only with ``Authorization: Bearer <token>``."""
    expected = hashlib.sha256(token.get_secret_value().encode()).digest()
    scheme = HTTPBearer(auto_error=False, description="the API token (ALT42_API_TOKEN)")

    def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(scheme)] = None) -> None:
        given = hashlib.sha256(credentials.credentials.encode()).digest() if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token (Authorization: Bearer <ALT42_API_TOKEN>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


async def _refuse(send: Callable, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """ASGI middleware: refuse request bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body larger than {self.max_bytes} bytes (ALT42_API_MAX_BODY_BYTES)"
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.max_bytes):
            await _refuse(send, 413, too_large)
            return
        body, more = b"", True
        while more:  # read it here (it is small by now) so that a streamed body is bounded too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await _refuse(send, 413, too_large)
                return
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if delivered:
                return await receive()  # what follows the body: the disconnect
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class RateLimit:
    """ASGI middleware: at most ``per_minute`` requests a minute per client address."""

    def __init__(self, app: Callable, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def _take(self, client: str) -> float:
        """0 when the request may pass, else the seconds until it could."""
        at = self.clock()
        tokens, then = self.buckets.get(client, (self.capacity, at))
        tokens = min(self.capacity, tokens + (at - then) * self.refill_per_s)
        if len(self.buckets) >= MAX_CLIENTS and client not in self.buckets:
            self._forget_full(at)
        if tokens >= 1.0:
            self.buckets[client] = (tokens - 1.0, at)
            return 0.0
        self.buckets[client] = (tokens, at)
        return (1.0 - tokens) / self.refill_per_s

    def _forget_full(self, at: float) -> None:
        """Drop the clients whose bucket has refilled: they are as if never seen."""
        full_after = self.capacity / self.refill_per_s
        self.buckets = {c: (t, then) for c, (t, then) in self.buckets.items() if at - then < full_after}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self._take(client)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            detail = f"too many requests: at most {int(self.capacity)} a minute per client (ALT42_API_RATE_PER_MINUTE)"
            await _refuse(send, 429, detail, {"Retry-After": str(retry)})
            return
        await self.app(scope, receive, send)
