"""The one clock of the pipeline, and its one test seam.

The warehouse stores naive UTC timestamps (:func:`utcnow`); schedules that live in time
zones need an aware time (:func:`now`). Both read the same source, which tests replace
with :func:`frozen` (or by setting ``_source``) to move time without sleeping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Where the time comes from; None is the system clock. A source may return naive UTC.
_source: Callable[[], dt.datetime] | None = None


def now() -> dt.datetime:
    """Now, time-zone aware, in UTC."""
    moment = _source() if _source is not None else dt.datetime.now(dt.UTC)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Now, as the naive UTC timestamp the warehouse stores."""
    return now().replace(tzinfo=None)


@contextmanager
def frozen(at: dt.datetime | Callable[[], dt.datetime]) -> Iterator[None]:
    """Within the block the clock reads ``at`` (a time, or a function giving one)."""
    global _source
    previous = _source
    _source = at if callable(at) else (lambda: at)
    try:
        yield
    finally:
        _source = previous
