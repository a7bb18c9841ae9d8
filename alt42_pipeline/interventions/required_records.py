"""Which records a student needs on a day before the batch makes a recommendation.

The rule is a list of verb groups; a student qualifies when, for every group, at least one
of the day's events has a verb in that group. Spelled as text (``ALT42_REQUIRED_RECORDS``):
groups separated by ``;``, each ``name:verb,verb`` or ``name:!verb,verb`` (any verb except
those). The default ``attempt:answered;activity:!answered`` asks for one question attempt
and one other activity event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class VerbGroup:
    name: str
    verbs: frozenset[str]
    exclude: bool = False

    def present(self, verb: sa.ColumnElement[str]) -> sa.ColumnElement[int]:
        """Aggregate over a student's events: 1 when one of them is in the group, else 0."""
        hit = verb.not_in(sorted(self.verbs)) if self.exclude else verb.in_(sorted(self.verbs))
        return sa.func.max(sa.case((hit, 1), else_=0))

    def __str__(self) -> str:
        return f"{self.name}:{'!' if self.exclude else ''}{','.join(sorted(self.verbs))}"


def parse_required_records(spec: str) -> tuple[VerbGroup, ...]:
    """Parse the text form; a ValueError names the group that is wrong."""
    groups = []
    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        name, sep, verbs_text = part.partition(":")
        name = name.strip()
        exclude = verbs_text.strip().startswith("!")
        verbs = frozenset(v.strip() for v in verbs_text.strip().lstrip("!").split(",") if v.strip())
        if not sep or not _NAME.match(name) or not verbs:
            raise ValueError(
                f"required records group {part!r} is not 'name:verb,verb' or 'name:!verb,verb' (in {spec!r})"
            )
        if name in {g.name for g in groups}:
            raise ValueError(f"required records group {name!r} appears twice (in {spec!r})")
        groups.append(VerbGroup(name, verbs, exclude))
    if not groups:
        raise ValueError(f"required records {spec!r} name no group")
    return tuple(groups)


def flag_column(index: int) -> str:
    """Name of the per-student column that says whether group ``index`` is present."""
    return f"required_{index}"


def has_required_records(day: pd.DataFrame, groups: tuple[VerbGroup, ...]) -> np.ndarray:
    """Per row of ``day``: whether every group flag (:func:`flag_column`) is set."""
    flags = day[[flag_column(i) for i in range(len(groups))]].to_numpy()
    return (flags > 0).all(axis=1)
