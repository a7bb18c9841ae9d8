"""Build a warehouse holding a demo platform's spine (catalogue and events) without Dagster,
for tests whose subject is further down the graph."""

import datetime as dt
from pathlib import Path

from alt42_pipeline.demo import Platform
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.flows.catalogue import refresh_catalogue
from alt42_pipeline.flows.ingest import ingest_day
from alt42_pipeline.warehouse import Warehouse, make_engine


def build_spine(platform: Platform, folder: Path, now: dt.datetime) -> Warehouse:
    """Write the platform's sources under ``folder`` and ingest every day into
    ``folder/template.db``; returns that warehouse (the caller disposes of it)."""
    asmt, mdl = make_engine(f"sqlite:///{folder / 'a.db'}"), make_engine(f"sqlite:///{folder / 'm.db'}")
    write_assessment(platform, asmt)
    write_moodle(platform, mdl)
    wh = Warehouse(f"sqlite:///{folder / 'template.db'}")
    refresh_catalogue(wh, asmt, mdl, "mdl_", now)
    day = platform.config.first_day
    while day <= platform.config.last_day:
        ingest_day(wh, asmt, mdl, "mdl_", day, now)
        day += dt.timedelta(days=1)
    asmt.dispose()
    mdl.dispose()
    return wh
