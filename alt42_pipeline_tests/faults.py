"""A misbehaving HTTP service on 127.0.0.1 for fault tests: it drips bytes, lies about its
encoding, answers garbage or absurd values. Each path is one behaviour; every request is
recorded (method, path, headers, body)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: path -> handler(request_handler, body) that writes the whole answer
Route = Callable[[BaseHTTPRequestHandler, bytes], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for key, value in (
        {"Content-Type": "application/json", "Content-Length": str(len(body))} | (headers or {})
    ).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, status: int, value: Any) -> None:
    send(handler, status, json.dumps(value).encode())


def drip(every_s: float, total_bytes: int = 200) -> Route:
    """200 with a JSON body sent one byte every ``every_s`` seconds (each read gets a byte in time)."""

    def route(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
        body = (b'{"pad": "' + b"x" * total_bytes + b'"}')[:total_bytes]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for i in range(len(body)):
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
                time.sleep(every_s)
        except (BrokenPipeError, ConnectionResetError):
            pass

    return route


def gzip_garbage(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
    """A 200 saying ``Content-Encoding: gzip`` whose body is not gzip."""
    send(handler, 200, b'{"items": []} this is not gzip', {"Content-Encoding": "gzip"})


def not_json(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
    send(handler, 200, b"<html>proxy error</html>", {"Content-Type": "text/html"})


def healthy(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
    send_json(handler, 200, {"status": "ok"})


class FaultServer:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                outer.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                route = outer.routes.get(path)
                if route is None:
                    send_json(self, 404, {"error": "no such path"})
                else:
                    route(self, body)

            do_GET = do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"].split("?")[0] == path)

    @contextmanager
    def running(self) -> Iterator[FaultServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def fault_server(routes: dict[str, Route]) -> Iterator[FaultServer]:
    with FaultServer(routes).running() as server:
        yield server
