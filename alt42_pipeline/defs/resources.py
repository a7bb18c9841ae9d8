"""One resource per domain, built from the settings tree (``alt42_pipeline.settings``).

Each resource is its domain's settings section as Dagster config (shown in the UI; the
section's validation applies) and hands the domain the plain, typed section with
``settings()``. Secrets, and URLs that may hold a password, are passed as ``EnvVar`` when
they come from the environment, so the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import os
from typing import TypeVar

import dagster as dg
from pydantic import BaseModel, PrivateAttr

from .. import settings
from ..calibration import IrtServiceClient
from ..settings import InterventionSettings, IrtSettings, ReportSettings, StateSettings
from ..sources import Sources
from ..warehouse import Warehouse

S = TypeVar("S", bound=BaseModel)


def _section(cls: type[S], resource: dg.ConfigurableResource) -> S:
    """The domain's plain settings section from the resource's config (fields a subclass
    adds, e.g. in a test, are not the domain's)."""
    return cls.model_validate(resource.model_dump(include=set(cls.model_fields)))


def _secret(name: str, value: str) -> str:
    """``value``, or an ``EnvVar`` of ``name`` when the value comes from that variable."""
    return dg.EnvVar(name) if os.environ.get(name) else value


class WarehouseResource(dg.ConfigurableResource):
    """The analytics warehouse (``ALT42_WAREHOUSE_URL``, ``ALT42_TABLE_PREFIX``)."""

    url: str
    table_prefix: str = ""
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.url, self.table_prefix)
            self._warehouse.ensure_schema()
        return self._warehouse


class SourcesResource(dg.ConfigurableResource):
    """Where the assessment database and Moodle live (each its own URL; empty = not read)."""

    assessment_url: str
    moodle_url: str
    moodle_prefix: str = "mdl_"

    def get(self) -> Sources:
        return Sources.connect(self.assessment_url, self.moodle_url, self.moodle_prefix)


class IrtResource(dg.ConfigurableResource, IrtSettings):
    """Which backend calibrates (``ALT42_IRT_BACKEND``) and where the remote service is."""

    service_token: str = ""  # a secret: an EnvVar (Dagster config has no SecretStr)

    def settings(self) -> IrtSettings:
        return _section(IrtSettings, self)

    def client(self) -> IrtServiceClient | None:
        """The IRT service's client (None when the built-in engine calibrates)."""
        return None if self.backend == "builtin" else IrtServiceClient.from_settings(self.settings())


class StateResource(dg.ConfigurableResource, StateSettings):
    """Heartbeat, inactivity thresholds, watchdog and the alert webhook."""

    def settings(self) -> StateSettings:
        return _section(StateSettings, self)


class InterventionsResource(dg.ConfigurableResource, InterventionSettings):
    """The intervention batch's recommender and the records a student needs."""

    recommender_token: str = ""  # a secret: an EnvVar (Dagster config has no SecretStr)

    def settings(self) -> InterventionSettings:
        return _section(InterventionSettings, self)


class ReportsResource(dg.ConfigurableResource):
    """Where the weekly reports go besides the warehouse (``ALT42_REPORT_DIR``, ``ALT42_REPORT_FILES``)."""

    report_dir: str
    files: bool = True

    def settings(self) -> ReportSettings:
        return _section(ReportSettings, self)


def build_resources(s: settings.Settings) -> dict[str, dg.ConfigurableResource]:
    """Every domain's resource from one settings tree."""
    return {
        "warehouse": WarehouseResource(
            url=_secret("ALT42_WAREHOUSE_URL", s.warehouse.url), table_prefix=s.warehouse.table_prefix
        ),
        "sources": SourcesResource(
            assessment_url=_secret("ALT42_ASSESSMENT_URL", s.sources.assessment_url),
            moodle_url=_secret("ALT42_MOODLE_URL", s.sources.moodle_url),
            moodle_prefix=s.sources.moodle_prefix,
        ),
        "irt": IrtResource(
            **s.irt.model_dump(exclude={"service_token", "service_url"}),
            service_url=_secret("ALT42_IRT_SERVICE_URL", s.irt.service_url),
            service_token=_secret("ALT42_IRT_SERVICE_TOKEN", s.irt.service_token.get_secret_value()),
        ),
        "state": StateResource(
            **s.state.model_dump(exclude={"alert_webhook_url"}),
            alert_webhook_url=_secret("ALT42_ALERT_WEBHOOK_URL", s.state.alert_webhook_url),
        ),
        "batch": InterventionsResource(
            **s.interventions.model_dump(exclude={"recommender_token", "recommender_url"}),
            recommender_url=_secret("ALT42_RECOMMENDER_URL", s.interventions.recommender_url),
            recommender_token=_secret("ALT42_RECOMMENDER_TOKEN", s.interventions.recommender_token.get_secret_value()),
        ),
        "reports": ReportsResource(report_dir=str(s.reports.report_dir), files=s.reports.files),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(settings.load()))
