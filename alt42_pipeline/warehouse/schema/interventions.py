"""Tables of the interventions domain."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

DOMAIN = "interventions"


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    """No tables yet."""
