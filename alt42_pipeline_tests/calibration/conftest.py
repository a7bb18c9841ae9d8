"""A warehouse holding a demo platform's spine, built once per module and backend."""

import datetime as dt
import shutil

import pytest
import sqlalchemy as sa

from alt42_pipeline.demo import DemoConfig, generate
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.flows.catalogue import refresh_catalogue
from alt42_pipeline.flows.ingest import ingest_day
from alt42_pipeline.warehouse import Warehouse, make_engine

IRT_DEMO = DemoConfig(end_date=dt.date(2026, 3, 6))  # the demo size: 400 students, 28 days
NOW = dt.datetime(2026, 3, 7, 3, 0)


@pytest.fixture(scope="module")
def irt_platform():
    return generate(IRT_DEMO)


@pytest.fixture(scope="module")
def spine_sqlite(tmp_path_factory, irt_platform):
    """Path of a SQLite warehouse with questions and events of the IRT demo platform."""
    folder = tmp_path_factory.mktemp("irt_spine")
    asmt, mdl = make_engine(f"sqlite:///{folder / 'a.db'}"), make_engine(f"sqlite:///{folder / 'm.db'}")
    write_assessment(irt_platform, asmt)
    write_moodle(irt_platform, mdl)
    wh = Warehouse(f"sqlite:///{folder / 'template.db'}")
    refresh_catalogue(wh, asmt, mdl, "mdl_", NOW)
    day = IRT_DEMO.first_day
    while day <= IRT_DEMO.last_day:
        ingest_day(wh, asmt, mdl, "mdl_", day, NOW)
        day += dt.timedelta(days=1)
    wh.engine.dispose()
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
