"""The warehouse: schema, migrations and the one storage layer (:class:`Warehouse`)."""

from .schema import Schema, build_schema
from .store import Warehouse, make_engine, utcnow

__all__ = ["Schema", "Warehouse", "build_schema", "make_engine", "utcnow"]
