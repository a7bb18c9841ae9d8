"""What operators do to the running pipeline, shared by the command line (``cli/``) and the
batch management HTTP API (``api/``): launch and inspect the intervention batch through the
Dagster instance (``batch``), run one heartbeat outside Dagster (``heartbeat``), check every
dependency (``doctor``).

A shell like ``defs/`` and ``cli/``: it may use Dagster, ``defs/`` (the names of jobs,
sensors and tags) and every domain's face; no domain imports it.
"""

from __future__ import annotations

from .. import settings
from ..warehouse import Warehouse
from .instance import InstanceUnavailable, open_instance


def open_warehouse(s: settings.Settings | None = None) -> Warehouse:
    """The configured warehouse (its tables are created or upgraded on first use)."""
    s = s or settings.load()
    return Warehouse(s.warehouse.url, s.warehouse.table_prefix)


__all__ = ["InstanceUnavailable", "open_instance", "open_warehouse"]
