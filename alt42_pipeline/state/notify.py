"""Alerts to a webhook (JSON over HTTP POST), retried on transient failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger(__name__)

#: Status codes worth another attempt; any other error status fails at once.
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_sleep = time.sleep


class NotificationError(RuntimeError):
    """The webhook did not accept the alert (after retries where a retry could help)."""


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    backoff_s: float = 1.0,
    timeout_s: float = 10.0,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] | None = None,
) -> httpx.Response:
    """POST ``payload`` to ``url``; retry transport errors and retryable statuses with
    exponential backoff; raise :class:`NotificationError` when it still fails."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    owned = client is None
    client = client or httpx.Client(timeout=timeout_s)
    try:
        problem = ""
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, json=payload)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return response
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUS:
                    break
            if attempt < attempts:
                log.warning("alert webhook attempt %d/%d failed (%s); retrying", attempt, attempts, problem)
                (sleep or _sleep)(backoff_s * 2 ** (attempt - 1))
        raise NotificationError(f"alert webhook failed after {attempt} attempt(s): {problem}")
    finally:
        if owned:
            client.close()
