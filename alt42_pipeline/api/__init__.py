"""The batch management HTTP API (``alt42 api``): the legacy batch's endpoints, served by
uvicorn. :func:`create_app` builds the application (``app``), :func:`serve` runs it."""

from __future__ import annotations

from .. import redaction
from ..settings import Settings
from .app import create_app


class ApiNotConfigured(RuntimeError):
    """The API cannot start as configured (no token)."""


def serve(s: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted, on ``host:port`` (default: the settings')."""
    import uvicorn

    if not s.api.token.get_secret_value():
        raise ApiNotConfigured("ALT42_API_TOKEN is not set: the API refuses to serve without a bearer token")
    config = uvicorn.Config(
        create_app(s),
        host=host or s.api.host,
        port=port or s.api.port,
        server_header=False,
        proxy_headers=False,  # the client address the rate limit counts is the connection's own
        limit_concurrency=100,
        timeout_keep_alive=5,
        log_level="info",  # never "trace": uvicorn would log the requests' headers, the token among them
    )
    redaction.install(handlers_of=("uvicorn", "uvicorn.error", "uvicorn.access"))  # configured by Config
    uvicorn.Server(config).run()


__all__ = ["ApiNotConfigured", "create_app", "serve"]
