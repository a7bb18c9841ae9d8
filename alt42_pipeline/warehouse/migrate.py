"""Versioned, re-runnable schema migrations (Alembic, driven from code, no ini file).

Alembic is imported by the functions that migrate, not with the module: loading the code
location (which imports the warehouse for its table names) does not need it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
_SCRIPTS = Path(__file__).with_name("migrations")


def _config(connection: sa.Connection, prefix: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    cfg.attributes["prefix"] = prefix
    return cfg


def _script_directory() -> ScriptDirectory:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str:
    return _script_directory().get_current_head()


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [script.revision for script in reversed(list(_script_directory().walk_revisions()))]


def current_revision(engine: sa.Engine, prefix: str = "") -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": f"{prefix}alembic_version"})
        return ctx.get_current_revision()


def upgrade(engine: sa.Engine, prefix: str = "", revision: str = "head") -> str:
    """Bring the warehouse to ``revision``; a no-op when it is already there."""
    if revision == "head" and current_revision(engine, prefix) == head_revision():
        return head_revision()
    from alembic import command

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # its per-step INFO lines are noise in run logs
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn, prefix), revision)
    finally:
        alembic_log.setLevel(level)
    now = current_revision(engine, prefix)
    log.info("warehouse schema at revision %s (prefix %r)", now, prefix)
    return now


def downgrade(engine: sa.Engine, prefix: str = "", revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_config(conn, prefix), revision)
