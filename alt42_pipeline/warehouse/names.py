"""Names the code puts into SQL: table prefixes, checked once where they enter."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_prefix(prefix: str, setting: str = "table prefix") -> str:
    """Return ``prefix`` if it is empty or a plain SQL identifier, else raise ValueError."""
    if prefix and not _IDENTIFIER.match(prefix):
        raise ValueError(
            f"{setting} {prefix!r} is not a plain identifier "
            "(letters, digits and underscores, not starting with a digit)"
        )
    return prefix
