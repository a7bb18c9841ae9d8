"""What every command needs: the settings and the warehouse they name."""

from __future__ import annotations

from .. import settings
from ..warehouse import Warehouse


def open_warehouse(s: settings.Settings | None = None) -> Warehouse:
    """The configured warehouse (its tables are created or upgraded on first use)."""
    s = s or settings.load()
    return Warehouse(s.warehouse.url, s.warehouse.table_prefix)
