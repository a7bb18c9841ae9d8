"""The item model: one definition for estimation, scoring, fit, simulation and plots.

Dichotomous items parametrised as in R mirt:

    P(correct | theta) = c + (1 - c) * logistic(a * theta + d),    b = -d / a

with slope ``a``, intercept ``d``, difficulty ``b`` and lower asymptote
``c`` (0 for the 2PL).  As in mirt, where one item-model definition serves
estimation, scoring and plotting, every part of the package and the
calibration health checks and report plots take the response function, its
information, the reading of item tables and the rule for items that cannot
be calibrated from here; the numba kernels (:mod:`.kernels`) are the only
place that inlines the formula, because compiled loops cannot call numpy.

Plain numpy/scipy without numba or I/O, so plotting code can import it
cheaply.  The functions broadcast: callers shape their arrays (items x nodes,
nodes x items, or one value per response).  ``c=None`` (or an all-zero
``c``) is the 2PL, which takes the shorter path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._messages import _fmt


def difficulty(a, d):
    """``b = -d / a``: the ability at which the logistic part is one half."""
    return -d / a


def intercept(a, b):
    """``d = -a * b``: the intercept of an item of difficulty ``b``."""
    return -a * b


def item_arrays(items: pd.DataFrame):
    """``(a, d, c)`` float arrays from an items table indexed by ``item_id``.

    The table has ``a`` and ``d``, or ``a`` and ``b`` (then ``d = -a * b``),
    and optionally ``c`` (0 when absent).  Anything else raises:
    ``TypeError`` for a non-DataFrame, ``ValueError`` naming the items for
    duplicate ids, non-finite parameters or ``c`` outside [0, 1), and for a
    missing column.
    """
    if not isinstance(items, pd.DataFrame):
        raise TypeError("items must be a DataFrame indexed by item_id")
    if items.index.has_duplicates:
        raise ValueError(f"items has duplicate ids: {_fmt(items.index[items.index.duplicated()])}")
    if "a" not in items:
        raise ValueError("items need column 'a'")
    a = items["a"].to_numpy(dtype=np.float64)
    if "d" in items:
        d = items["d"].to_numpy(dtype=np.float64)
    elif "b" in items:
        d = intercept(a, items["b"].to_numpy(dtype=np.float64))
    else:
        raise ValueError("items need column 'd' or 'b'")
    c = items["c"].to_numpy(dtype=np.float64) if "c" in items else np.zeros(a.size)
    bad = ~(np.isfinite(a) & np.isfinite(d) & np.isfinite(c)) | (c < 0) | (c >= 1)
    if bad.any():
        raise ValueError(f"item parameters not finite or c outside [0, 1) for {_fmt(items.index[bad])}")
    return a, d, c
