"""Shared fixtures: real databases (SQLite, PostgreSQL, MariaDB), each fresh per test.

PostgreSQL and MariaDB tests create a database of their own and drop it afterwards. Where
a server does not answer, they are skipped locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from alt42_pipeline import clock, settings
from alt42_pipeline.warehouse import Warehouse

PG_ADMIN_URL = os.environ.get("ALT42_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("ALT42_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture(autouse=True)
def _fresh_settings_and_clock():
    """Each test reads the environment as it sets it, on the real clock unless it freezes it."""
    settings.load.cache_clear()
    yield
    settings.load.cache_clear()
    clock._source = None


def _server_missing(kind: str, exc: Exception) -> None:
    message = f"{kind} server not reachable: {exc}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: a missing server is a failure)")
    pytest.skip(message)


def _fresh_database(admin_url: str, kind: str) -> Iterator[str]:
    name = f"alt42_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _server_missing(kind, exc)
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if kind == "PostgreSQL":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the test."""
    yield from _fresh_database(PG_ADMIN_URL, "PostgreSQL")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of a fresh MariaDB/MySQL database, dropped after the test."""
    yield from _fresh_database(MYSQL_ADMIN_URL, "MariaDB")


@pytest.fixture
def instance():
    """A Dagster instance of its own (temporary storage) for the test."""
    import dagster as dg

    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """A fresh warehouse URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def warehouse(warehouse_url) -> Iterator[Warehouse]:
    wh = Warehouse(warehouse_url)
    wh.migrate()
    yield wh
    wh.engine.dispose()


@pytest.fixture
def sqlite_warehouse(sqlite_url) -> Iterator[Warehouse]:
    wh = Warehouse(sqlite_url)
    wh.migrate()
    yield wh
    wh.engine.dispose()


# -- demo platform fixtures ---------------------------------------------------------------
import datetime as dt  # noqa: E402
from pathlib import Path  # noqa: E402

from alt42_pipeline.demo import DemoConfig, generate  # noqa: E402
from alt42_pipeline.demo.write import write_assessment, write_moodle  # noqa: E402

SMALL_DEMO = DemoConfig(students=60, days=5, end_date=dt.date(2026, 3, 6), seed=7)


@pytest.fixture(scope="session")
def small_platform():
    """A small seeded platform (60 students, 5 days ending Friday 2026-03-06)."""
    return generate(SMALL_DEMO)


def make_resources(warehouse_url: str, assessment_url: str = "", moodle_url: str = "", prefix: str = "mdl_") -> dict:
    """Every domain's resource as the code location builds it from the environment, with the
    warehouse and the sources given."""
    from alt42_pipeline.defs.resources import SourcesResource, WarehouseResource, build_resources

    settings.load.cache_clear()
    return build_resources(settings.load()) | {
        "warehouse": WarehouseResource(url=warehouse_url),
        "sources": SourcesResource(assessment_url=assessment_url, moodle_url=moodle_url, moodle_prefix=prefix),
    }


def build_spine(platform, folder: Path, now: dt.datetime) -> Warehouse:
    """A warehouse holding a demo platform's spine (catalogue and events) without Dagster, for
    tests whose subject is further down the graph: the platform's sources are written under
    ``folder`` and every day ingested into ``folder/template.db`` (the caller disposes of it)."""
    from alt42_pipeline.sources import Sources
    from alt42_pipeline.spine import ingest_day, refresh_catalogue
    from alt42_pipeline.warehouse import make_engine

    asmt, mdl = make_engine(f"sqlite:///{folder / 'a.db'}"), make_engine(f"sqlite:///{folder / 'm.db'}")
    write_assessment(platform, asmt)
    write_moodle(platform, mdl)
    wh = Warehouse(f"sqlite:///{folder / 'template.db'}")
    sources = Sources(asmt, mdl, "mdl_")
    refresh_catalogue(wh, sources, now)
    day = platform.config.first_day
    while day <= platform.config.last_day:
        ingest_day(wh, sources, day, now)
        day += dt.timedelta(days=1)
    asmt.dispose()
    mdl.dispose()
    return wh


@pytest.fixture
def demo_sources(tmp_path, small_platform):
    """The small platform written to SQLite source databases; returns (assessment, moodle) URLs."""
    asmt = f"sqlite:///{tmp_path / 'assessment.db'}"
    mdl = f"sqlite:///{tmp_path / 'moodle.db'}"
    write_assessment(small_platform, sa.create_engine(asmt))
    write_moodle(small_platform, sa.create_engine(mdl))
    return asmt, mdl
