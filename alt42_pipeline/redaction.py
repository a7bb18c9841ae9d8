"""What may be shown of a value: the one home for keeping secrets and huge values out of
logs, error messages, metadata, the status screen and reports.

* :func:`shown` is the ``repr`` of a value cut to a few dozen characters, for error messages
  that name a bad value (a 10,000-character setting must not come back in full);
* :func:`safe_url` is a URL without what can be a secret: user and password, query string
  and fragment, and the path (webhook URLs often carry their token in the path);
* :class:`SecretFilter` is a logging filter that masks registered secret values and the
  query strings of URLs in every record it sees. :func:`install` attaches it to the loggers
  of the HTTP libraries (httpx logs each request's full URL at INFO) and to the root
  logger's handlers; the settings register their secrets with :func:`register` when they
  are loaded, so any later log line naming one shows ``[redacted]`` instead.

No domain logic here and no environment reading: callers hand in what is secret.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "[redacted]"
#: How many characters of a value an error message shows.
SHOWN_MAX = 60
#: Secrets shorter than this are not masked in free text (too many false hits, and a
#: secret that short is no secret).
MIN_SECRET_LENGTH = 6

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_lock = threading.Lock()
_secrets: set[str] = set()


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length said."""
    text = repr(value)
    if len(text) <= limit:
        return text
    length = f"{len(value)} characters" if isinstance(value, (str, bytes)) else f"{len(text)} characters shown"
    return f"{text[:limit]}... ({length})"


def safe_url(url: str) -> str:
    """``url`` reduced to scheme, host and port: no credentials, path, query or fragment.

    ``https://u:p@hooks.example/T0/B1/secret?token=x`` -> ``https://hooks.example/[redacted]``.
    """
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return urlunsplit((parts.scheme, f"{host}{port}", f"/{MASK}" if hidden else parts.path, "", ""))


def register(*values: str | None) -> None:
    """Remember ``values`` as secrets: :class:`SecretFilter` masks them wherever they appear.

    A URL is registered with its password, its query string and its path too, so that a
    line showing only a part of it is masked as well."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        found.add(value)
        found.update(_url_parts(value))
    with _lock:
        _secrets.update(v for v in found if len(v) >= MIN_SECRET_LENGTH)


def forget_all() -> None:
    """Forget every registered secret (tests)."""
    with _lock:
        _secrets.clear()


def _url_parts(value: str) -> Iterable[str]:
    try:
        parts = urlsplit(value)
    except ValueError:
        return []
    if not parts.scheme or not parts.netloc:
        return []
    out = [parts.query, parts.fragment, parts.password or ""]
    if parts.path not in ("", "/"):
        out.append(parts.path)
    return [p for p in out if p]


def redact(text: str) -> str:
    """``text`` with every registered secret and every URL's secret parts masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _URL.sub(lambda m: _url_without_secrets(m.group(0)), text)


def _url_without_secrets(url: str) -> str:
    """A URL in free text: credentials and query string masked, the path kept."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", f":{MASK}@")
    except ValueError:
        return MASK
    query = MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message (its arguments are formatted first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's business, not ours
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = SecretFilter()
#: Loggers that print URLs of outbound requests (httpx: "HTTP Request: POST <url> ...").
HTTP_LOGGERS = ("httpx", "httpcore", "urllib3")


def install(handlers_of: Iterable[str] = ()) -> None:
    """Attach the filter to the HTTP libraries' loggers and to the root logger's handlers,
    and to the handlers of the loggers named in ``handlers_of`` (a server's own, which do not
    propagate to the root); idempotent: call again after logging is configured to cover new
    handlers."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in handlers_of)]:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


install()
