"""How error messages name ids: as ``repr`` of plain Python values, at most
``_MAX_LISTED`` of them.  Its own module (no numba) so that the item model can
name bad items without importing the engine."""

from __future__ import annotations

import numpy as np

_MAX_LISTED = 20


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _fmt(values) -> str:
    values = [tuple(_plain(x) for x in v) if isinstance(v, tuple) else _plain(v) for v in values]
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    if len(values) > _MAX_LISTED:
        shown += f", ... ({len(values)} in total)"
    return shown
