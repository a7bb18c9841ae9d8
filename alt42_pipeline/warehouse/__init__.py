"""The warehouse: schema, migrations and the one storage layer (:class:`Warehouse`)."""

from .names import validate_prefix
from .schema import Schema, build_schema
from .store import Transaction, Warehouse, make_engine

__all__ = ["Schema", "Transaction", "Warehouse", "build_schema", "make_engine", "validate_prefix"]
