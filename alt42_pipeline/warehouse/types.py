"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

#: Naive UTC timestamps everywhere; microseconds kept on MySQL too (its default is seconds).
UtcDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class JsonDocument(sa.types.TypeDecorator):
    """A JSON document: JSONB on PostgreSQL, JSON on MySQL, text elsewhere.

    Accepts a Python object or an already serialised JSON string and always reads back
    a Python object, so callers never care which database they are on.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.JSON())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect):
        if value is None:
            return None
        native = dialect.name in ("postgresql", "mysql", "mariadb")
        if isinstance(value, str):
            return json.loads(value) if native else value
        return value if native else json.dumps(value, sort_keys=True, default=str)

    def process_result_value(self, value: Any, dialect):
        if isinstance(value, (str, bytes)):
            return json.loads(value)
        return value


#: Text of any length: MySQL's TEXT holds only 64 KB (a weekly report with its plots is more).
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
