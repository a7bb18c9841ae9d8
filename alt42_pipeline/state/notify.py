"""Alerts to a webhook (JSON over HTTP POST), retried on transient failures under the
pipeline's one retry policy (:mod:`alt42_pipeline.http`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from ..http import HttpCallError, JsonClient

#: How :func:`post_json` waits between attempts when the caller does not say (read at
#: each call, so a test can replace it for the Dagster code that posts).
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
    with JsonClient(
        "alert webhook",
        timeout_s=timeout_s,
        attempts=attempts,
        backoff_s=backoff_s,
        client=client,
        sleep=sleep or _sleep,
    ) as http:
        try:
            return http.request("POST", url, json=payload)
        except HttpCallError as exc:
            raise NotificationError(f"alert webhook failed after {exc.attempts} attempt(s): {exc.problem}") from None
