"""Resources shared by every domain: the warehouse and the two source databases."""

from __future__ import annotations

import os

from functools import lru_cache

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr

from .. import settings
from ..warehouse import Warehouse, make_engine


def _secret_or_default(env_name: str, default: str):
    """An ``EnvVar`` when the variable is set (its value is then never shown in the UI)."""
    return dg.EnvVar(env_name) if os.environ.get(env_name) else default


class WarehouseResource(dg.ConfigurableResource):
    """The analytics warehouse (``ALT42_WAREHOUSE_URL``, ``ALT42_TABLE_PREFIX``)."""

    url: str
    table_prefix: str = ""
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.url, settings.validate_prefix(self.table_prefix))
            self._warehouse.ensure_schema()
        return self._warehouse


class SourcesResource(dg.ConfigurableResource):
    """Where the assessment database and Moodle live (each its own URL; empty = not read)."""

    assessment_url: str
    moodle_url: str
    moodle_prefix: str = "mdl_"

    def assessment_engine(self) -> sa.Engine | None:
        return _engine(self.assessment_url) if self.assessment_url else None

    def moodle_engine(self) -> sa.Engine | None:
        return _engine(self.moodle_url) if self.moodle_url else None

    def prefix(self) -> str:
        return settings.validate_prefix(self.moodle_prefix, "Moodle table prefix")


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    return make_engine(url)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from the environment (see ``alt42_pipeline.settings``)."""
    s = settings.load()
    return {
        "warehouse": WarehouseResource(
            url=_secret_or_default("ALT42_WAREHOUSE_URL", s.warehouse_url), table_prefix=s.table_prefix
        ),
        "sources": SourcesResource(
            assessment_url=_secret_or_default("ALT42_ASSESSMENT_URL", s.assessment_url),
            moodle_url=_secret_or_default("ALT42_MOODLE_URL", s.moodle_url),
            moodle_prefix=s.moodle_prefix,
        ),
    }
