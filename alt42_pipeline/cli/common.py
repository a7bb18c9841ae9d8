"""What every command needs: the settings, the warehouse they name, the Dagster instance,
and the one way a command reports a configuration or connection problem."""

from __future__ import annotations

import os
import re
from pathlib import Path

import sqlalchemy as sa

from .. import settings
from ..warehouse import Warehouse

#: The instance ``make demo`` and ``make dev`` use, when DAGSTER_HOME is not set.
LOCAL_DAGSTER_HOME = Path(".dagster_home")


class ConfigurationError(RuntimeError):
    """A setting that does not work (bad value, unreachable database, missing instance); the
    command prints the message as one line and exits with status 2."""


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def first_line(exc: BaseException) -> str:
    """The driver's own message of a database error, without SQLAlchemy's background link."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def open_warehouse(s: settings.Settings | None = None) -> Warehouse:
    """The configured warehouse, connected once to say clearly when it cannot be reached
    (its tables are created or upgraded on first use)."""
    s = s or settings.load()
    url = s.warehouse.url
    try:
        wh = Warehouse(url, s.warehouse.table_prefix)
        with wh.engine.connect():
            pass
    except (sa.exc.DBAPIError, sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"cannot reach the warehouse (ALT42_WAREHOUSE_URL={masked(url)}): {first_line(exc)}"
        ) from None
    return wh


def find_dagster_home() -> Path | None:
    """``DAGSTER_HOME``, else the demo's ``.dagster_home`` in the current folder, else None."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    if (LOCAL_DAGSTER_HOME / "dagster.yaml").exists():
        return LOCAL_DAGSTER_HOME.resolve()
    return None


def dagster_instance():
    """The Dagster instance of :func:`find_dagster_home`."""
    from ..control import InstanceUnavailable, open_instance

    home = find_dagster_home()
    if home is None:
        raise ConfigurationError(
            "DAGSTER_HOME is not set and there is no .dagster_home here: set DAGSTER_HOME to the folder "
            "of the Dagster instance (make demo creates .dagster_home)"
        )
    try:
        return open_instance(home)
    except InstanceUnavailable as exc:
        raise ConfigurationError(str(exc)) from None
