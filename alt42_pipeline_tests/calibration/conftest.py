"""A warehouse holding a demo platform's spine, built once per module and backend."""

import datetime as dt
import shutil

import pytest

from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.warehouse import Warehouse
from alt42_pipeline_tests.conftest import build_spine

IRT_DEMO = DemoConfig(end_date=dt.date(2026, 3, 6))  # the demo size: 400 students, 28 days
NOW = dt.datetime(2026, 3, 7, 3, 0)


@pytest.fixture(scope="module")
def irt_platform():
    return generate(IRT_DEMO)


@pytest.fixture(scope="module")
def spine_sqlite(tmp_path_factory, irt_platform):
    """Path of a SQLite warehouse with questions and events of the IRT demo platform."""
    folder = tmp_path_factory.mktemp("irt_spine")
    build_spine(irt_platform, folder, NOW).engine.dispose()
    return folder / "template.db"


@pytest.fixture
def irt_warehouse_url(spine_sqlite, tmp_path):
    """A private copy of the spine warehouse (SQLite)."""
    path = tmp_path / "wh.db"
    shutil.copy(spine_sqlite, path)
    return f"sqlite:///{path}"


def copy_tables(source_url: str, target_url: str, tables=("questions", "events")) -> None:
    src, dst = Warehouse(source_url), Warehouse(target_url)
    dst.migrate()
    for t in tables:
        dst.replace(t, src.read(t), None)
    src.engine.dispose()
    dst.engine.dispose()
