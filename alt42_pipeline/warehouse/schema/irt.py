"""Tables of the irt domain."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

DOMAIN = "irt"


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    """No tables yet."""
