"""Students' names from Moodle's ``user`` table, for the teachers' lists.

Read at report time straight from Moodle (``firstname``, ``lastname``), only for the
students the report lists, and never written to a log or the warehouse's other tables.
A Moodle without the table (or no Moodle at all) gives no names: students are then shown
by id.
"""

from __future__ import annotations

import logging

import pandas as pd
import sqlalchemy as sa

log = logging.getLogger(__name__)
COLUMNS = ["user_id", "firstname", "lastname"]


def moodle_names(engine: sa.Engine | None, prefix: str = "mdl_") -> pd.DataFrame:
    """(user_id, firstname, lastname) of every non-deleted Moodle user; empty when unknown."""
    if engine is None:
        return pd.DataFrame(columns=COLUMNS)
    try:
        user = sa.Table(f"{prefix}user", sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        log.info("Moodle has no %suser table: the report lists students by id", prefix)
        return pd.DataFrame(columns=COLUMNS)
    stmt = sa.select(user.c.id.label("user_id"), user.c.firstname, user.c.lastname)
    if "deleted" in user.c:
        stmt = stmt.where(user.c.deleted == 0)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).fetchall(), columns=COLUMNS)
