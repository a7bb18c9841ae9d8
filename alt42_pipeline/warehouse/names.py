"""Names the code puts into SQL: table prefixes, checked once where they enter.

A prefix is empty or a lowercase SQL identifier (``mdl_alt42_``): letters a-z, digits and
underscores, not starting with a digit, at most :data:`MAX_PREFIX_LENGTH` characters.

* lowercase only: PostgreSQL folds unquoted names to lowercase, so a mixed-case prefix
  creates tables under one name and views that look them up under another;
* bounded: PostgreSQL cuts identifiers at 63 characters (``NAMEDATALEN - 1``) and MySQL
  refuses more than 64, so the prefix plus the longest name the schema makes (an index
  name, or PostgreSQL's own ``<table>_<column>_seq``) must fit; a test keeps this bound
  equal to what the schema needs;
* whole: the value is matched as a whole (a trailing newline is not "the end" of it).
"""

from __future__ import annotations

import re

from ..redaction import shown

#: The longest identifier PostgreSQL keeps whole.
MAX_IDENTIFIER_LENGTH = 63
#: The longest prefix: MAX_IDENTIFIER_LENGTH minus the longest name of the schema (36
#: today), with room left for names to come.
MAX_PREFIX_LENGTH = 24
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def validate_prefix(prefix: str, setting: str = "table prefix") -> str:
    """Return ``prefix`` if it is empty or a valid prefix (see the module), else raise
    ValueError saying what is wrong (the value is shown cut to a few dozen characters)."""
    if not isinstance(prefix, str):
        raise ValueError(f"{setting} must be text, not {type(prefix).__name__}")
    if not prefix:
        return prefix
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(
            f"{setting} {shown(prefix)} is {len(prefix)} characters long; at most {MAX_PREFIX_LENGTH} "
            f"(table and index names must fit PostgreSQL's {MAX_IDENTIFIER_LENGTH} characters)"
        )
    if not _IDENTIFIER.fullmatch(prefix):
        raise ValueError(
            f"{setting} {shown(prefix)} is not a plain identifier "
            "(lowercase a-z, digits and underscores, not starting with a digit)"
        )
    return prefix
