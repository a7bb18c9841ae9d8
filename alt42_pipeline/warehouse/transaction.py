"""Several reads and writes of the warehouse that commit together or not at all.

``with transaction(wh) as tx:`` is ``with wh.transaction() as tx:``; see
:class:`~alt42_pipeline.warehouse.store.Transaction` for the operations.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from .store import Transaction, Warehouse

__all__ = ["Transaction", "transaction"]


def transaction(warehouse: Warehouse) -> AbstractContextManager[Transaction]:
    return warehouse.transaction()
