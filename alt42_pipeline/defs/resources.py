"""Resources shared by every domain: the warehouse and the two source databases."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import PrivateAttr

from .. import settings
from ..warehouse import Warehouse


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
    """Where the assessment database and Moodle live (each its own URL)."""

    assessment_url: str
    moodle_url: str
    moodle_prefix: str = "mdl_"


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
