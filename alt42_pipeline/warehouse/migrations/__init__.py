"""Alembic revisions of the warehouse schema (run through :mod:`alt42_pipeline.warehouse.migrate`).

The rule for every schema change
--------------------------------
A revision is frozen the day it is merged: it spells out its own operations
(``op.create_table``, ``op.add_column``, ``op.create_index``, ...) and never calls
today's table definitions (``warehouse/schema/*.py``, ``build_schema``). Otherwise an old
revision would silently start creating the new shape, a fresh install and an upgraded
install would disagree, and the new revision would fail on a column that already exists.

So a schema change is always:

1. a **new** revision in ``versions/`` (``down_revision`` = the current head) with explicit
   operations, names passed through :func:`.ops.prefixed` (tables, indexes, constraints),
   and a downgrade that undoes exactly those operations; and
2. the same change in ``warehouse/schema/*.py``, **in the same commit**: the code reads
   and writes through those definitions.

Never edit a merged revision. ``alt42_pipeline_tests/warehouse/test_migrations.py``
checks that the revisions, applied one by one, give the same tables, columns, keys and
indexes as ``build_schema(prefix).metadata.create_all``; it fails when either half of a
change is missing. Revisions may use the column types of ``warehouse/types.py``, so those
types must keep the DDL they emit; a type that needs different DDL is a new type.
Client-side ``default=`` values are not DDL and live in ``schema/*.py`` only;
``server_default=`` values are DDL and belong in the revision too.
"""
