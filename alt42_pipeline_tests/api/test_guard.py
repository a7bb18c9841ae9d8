"""The API's limits and its answers when what it stands on is missing, on a real uvicorn server
(in a thread of the test, on a loopback port) with small limits."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import dagster as dg
import httpx
import pytest
import uvicorn

from alt42_pipeline import settings
from alt42_pipeline.api import create_app
from alt42_pipeline.api.guard import RateLimit
from alt42_pipeline.control.batch import GraphQLLauncher
from alt42_pipeline_tests.servers import free_port

TOKEN = "guard-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(warehouse_url: str, **api) -> settings.Settings:
    return settings.Settings(
        warehouse=settings.WarehouseSettings(url=warehouse_url),
        api=settings.ApiSettings(token=TOKEN, **api),
    )


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_client_over_the_rate_gets_429_and_probes_are_never_limited(sqlite_url):
    with serving(create_app(_settings(sqlite_url, rate_per_minute=5))) as base:
        with httpx.Client(base_url=base, headers=AUTH) as client:
            answers = [client.get("/api/batch/schedule/").status_code for _ in range(5)]
            assert answers == [200] * 5
            limited = client.get("/api/batch/schedule/")
            assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
            assert "at most 5 a minute" in limited.json()["detail"]
            # unauthenticated guessing counts against the same budget
            assert client.get("/api/batch/schedule/", headers={"Authorization": "Bearer guess"}).status_code == 429
            assert [client.get("/healthz").status_code for _ in range(10)] == [200] * 10


def test_the_bucket_refills_with_time():
    limit = RateLimit(app=None, per_minute=60, clock=lambda: now[0])
    now = [0.0]
    assert [limit._take("a") for _ in range(60)] == [0.0] * 60
    assert limit._take("a") == pytest.approx(1.0)  # one a second
    assert limit._take("b") == 0.0  # another client has its own
    now[0] = 2.0
    assert limit._take("a") == 0.0


def test_a_body_over_the_limit_gets_413_announced_or_streamed(sqlite_url):
    with serving(create_app(_settings(sqlite_url, max_body_bytes=1024))) as base:
        with httpx.Client(base_url=base, headers=AUTH) as client:
            big = {"name": "x" * 2000, "frequency": "daily", "hour": 1}
            announced = client.post("/api/batch/schedule/", json=big)
            assert announced.status_code == 413 and "larger than 1024 bytes" in announced.json()["detail"]

            def chunks():  # no Content-Length: Transfer-Encoding chunked
                yield b'{"name": "'
                for _ in range(40):
                    yield b"y" * 100
                yield b'", "frequency": "daily", "hour": 1}'

            streamed = client.post(
                "/api/batch/schedule/", content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert streamed.status_code == 413
            small = client.post("/api/batch/schedule/", json={"name": "ok", "frequency": "daily", "hour": 1})
            assert small.status_code == 201
            assert client.get("/api/batch/schedule/").json()["schedules"][0]["name"] == "ok"


def test_what_is_missing_is_said_in_one_sentence(sqlite_url, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with serving(create_app(_settings(sqlite_url))) as base, httpx.Client(base_url=base, headers=AUTH) as client:
        for method, path in [("GET", "/api/batch/status/"), ("POST", "/api/batch/sync/"), ("POST", "/api/batch/run/")]:
            answer = client.request(method, path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["detail"].startswith("DAGSTER_HOME is not set")
        assert client.get("/api/batch/schedule/").status_code == 200  # schedules need no Dagster

    down = "postgresql+psycopg2://postgres@127.0.0.1:1/none"
    with serving(create_app(_settings(down))) as base, httpx.Client(base_url=base, headers=AUTH) as client:
        answer = client.get("/api/batch/schedule/")
        assert answer.status_code == 503
        assert answer.json()["detail"].startswith("the warehouse does not answer (ALT42_WAREHOUSE_URL)")


def test_an_unreachable_dagster_webserver_is_a_503_and_launches_nothing(sqlite_url):
    nowhere = f"http://127.0.0.1:{free_port()}"
    with dg.instance_for_test() as instance:
        app = create_app(_settings(sqlite_url), open_dagster=lambda: instance, launcher=GraphQLLauncher(nowhere))
        with serving(app) as base, httpx.Client(base_url=base, headers=AUTH) as client:
            answer = client.post("/api/batch/run/", json={"date": "2026-11-20"})
        assert answer.status_code == 503
        assert (
            answer.json()["detail"]
            == f"the Dagster webserver at {nowhere} (ALT42_DAGSTER_URL) did not answer (ConnectionError)"
        )
        assert instance.get_run_records() == []


def test_the_docs_page_renders_every_endpoint_in_a_browser_without_a_cdn(sqlite_url):
    from alt42_pipeline_tests.defs.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _require_browser

    _require_browser()
    from playwright.sync_api import sync_playwright

    with serving(create_app(_settings(sqlite_url))) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            outside = []  # every request the page makes must stay on this server
            page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
            page.goto(f"{base}/api/docs")
            page.wait_for_selector("text=/api/batch/run/", timeout=30_000)
            assert page.locator(".opblock").count() == 11  # every method and path
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "api_docs.png"))
        finally:
            browser.close()
    assert outside == []
