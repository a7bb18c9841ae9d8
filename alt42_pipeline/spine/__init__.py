"""The data spine: source rows -> canonical events (+ rejects), item catalogue, daily topic
features, weekly KPIs. Pure logic in ``events``, ``catalogue``, ``features``, ``kpis`` and
``timing``; ``flows`` reads, computes and writes. No Dagster here.
"""

from .accounting import accounting_problems
from .catalogue import CatalogueResult
from .events import ANSWERED, Canonical
from .flows import (
    DayResult,
    ingest_day,
    read_events,
    refresh_catalogue,
    refresh_features,
    refresh_kpis,
    refresh_last_access,
    total_reject_reasons,
)
from .kpis import KPI_NAMES, week_start

__all__ = [
    "ANSWERED",
    "accounting_problems",
    "KPI_NAMES",
    "Canonical",
    "CatalogueResult",
    "DayResult",
    "ingest_day",
    "read_events",
    "refresh_catalogue",
    "refresh_features",
    "refresh_kpis",
    "refresh_last_access",
    "total_reject_reasons",
    "week_start",
]
