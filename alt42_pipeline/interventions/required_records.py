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

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class VerbGroup:
    name: str
    verbs: frozenset[str]
    exclude: bool = False

    def matches(self, verbs: pd.Series) -> np.ndarray:
        hit = verbs.isin(self.verbs).to_numpy()
        return ~hit if self.exclude else hit

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
                f"required records group {part!r} is not 'name:verb,verb' or 'name:!verb,verb' "
                f"(in {spec!r})"
            )
        if name in {g.name for g in groups}:
            raise ValueError(f"required records group {name!r} appears twice (in {spec!r})")
        groups.append(VerbGroup(name, verbs, exclude))
    if not groups:
        raise ValueError(f"required records {spec!r} name no group")
    return tuple(groups)


def users_with_required_records(day_verbs: pd.DataFrame, groups: tuple[VerbGroup, ...]) -> np.ndarray:
    """Sorted ids of the users who have every group, from rows of (user_id, verb)."""
    if day_verbs.empty:
        return np.array([], dtype=np.int64)
    qualified: np.ndarray | None = None
    for group in groups:
        users = np.unique(day_verbs["user_id"].to_numpy(dtype=np.int64)[group.matches(day_verbs["verb"])])
        qualified = users if qualified is None else np.intersect1d(qualified, users, assume_unique=True)
    return qualified
