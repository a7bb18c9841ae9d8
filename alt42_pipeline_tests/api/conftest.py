"""A deployment in miniature for the API tests: a PostgreSQL warehouse (with the Moodle table
prefix), a Dagster instance, dagster-webserver serving the code location (its GraphQL API
launches the runs) and ``alt42 api`` itself, each a real process on a loopback port."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import PG_ADMIN_URL, _fresh_database
from alt42_pipeline_tests.servers import clean_env, free_port, start, start_webserver, stop, wait_until_serving

TOKEN = "api-token-" + "x7Qe3" * 6
PREFIX = "mdl_alt42_"


@dataclass
class Deployment:
    api_url: str
    dagster_url: str
    home: Path
    warehouse: Warehouse
    env: dict[str, str]  # the settings every process of the deployment reads
    api_log: Path

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=60)

    @contextlib.contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        instance = dg.DagsterInstance.from_config(str(self.home))
        try:
            yield instance
        finally:
            instance.dispose()


def _wait_for_job(base: str, job: str, limit_s: float = 180) -> None:
    """Until the webserver's code location has loaded and offers ``job``."""
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }"
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        data = httpx.post(f"{base}/graphql", json={"query": query}, timeout=10).json()["data"]
        nodes = data["repositoriesOrError"].get("nodes") or []
        if any(j["name"] == job for node in nodes for j in node["jobs"]):
            return
        time.sleep(1)
    pytest.fail(f"the code location did not offer {job} within {limit_s:.0f} s")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("deployment")
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with contextlib.contextmanager(_fresh_database)(PG_ADMIN_URL, "PostgreSQL") as url:
        wh = Warehouse(url, PREFIX)
        wh.migrate()
        web_port, api_port = free_port(), free_port()
        dagster_url = f"http://127.0.0.1:{web_port}"
        env = clean_env(
            DAGSTER_HOME=str(home),
            ALT42_DATA_DIR=str(tmp / "data"),
            ALT42_WAREHOUSE_URL=url,
            ALT42_TABLE_PREFIX=PREFIX,
            ALT42_DAGSTER_URL=dagster_url,
        )
        web_log, api_log = tmp / "webserver.log", tmp / "api.log"
        web = start_webserver(env, web_log, web_port)
        api_env = env | {"ALT42_API_TOKEN": TOKEN, "ALT42_API_RATE_PER_MINUTE": "6000"}
        api = start(["-m", "alt42_pipeline", "api", "--port", str(api_port)], api_env, api_log)
        try:
            api_url = f"http://127.0.0.1:{api_port}"
            wait_until_serving(api, f"{api_url}/healthz", api_log, "alt42 api")
            wait_until_serving(web, f"{dagster_url}/server_info", web_log, "dagster-webserver")
            _wait_for_job(dagster_url, "interventions_job")
            yield Deployment(api_url, dagster_url, home, wh, env, api_log)
        finally:
            stop(api)
            stop(web)
            wh.engine.dispose()


@pytest.fixture
def api(deployment) -> Iterator[httpx.Client]:
    with deployment.client() as client:
        yield client


@pytest.fixture
def deployment_env(deployment, monkeypatch) -> Deployment:
    """This test process configured like the deployment (for the CLI in-process)."""
    for name, value in deployment.env.items():
        if name.startswith(("ALT42_", "DAGSTER_")):
            monkeypatch.setenv(name, value)
    return deployment
