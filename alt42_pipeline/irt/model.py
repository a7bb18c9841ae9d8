"""The item model: one definition for estimation, scoring, fit, simulation and plots.

Dichotomous items parametrised as in R mirt:

    P(correct | theta) = c + (1 - c) * logistic(a * theta + d),    b = -d / a

with slope ``a``, intercept ``d``, difficulty ``b`` and lower asymptote
``c`` (0 for the 2PL).  As mirt has one item-model definition behind
estimation, scoring and plotting, the engine, the calibration health checks
and the report plots take from here the response function and its
information, the reading of item tables, and the rule for items that cannot
be calibrated.  Only the numba kernels (:mod:`.kernels`) write the formula
again, inside their compiled loops.

Plain numpy/scipy: no numba, no I/O.  The functions broadcast, so callers
shape their arrays (items x nodes, nodes x items, or one value per
response).  ``c=None`` or an all-zero ``c`` is the 2PL, which takes the
shorter path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._messages import _fmt

# Where log P is taken with a lower asymptote, P is kept this far from 0 and 1,
# so an answer the model deems impossible costs a large finite log-likelihood.
_EPS = 1e-12


def expit(x):
    """The logistic function (scipy's, exact in the tails). scipy.special is imported on the
    first call: the item model is imported wherever items are read, estimating or not."""
    from scipy.special import expit as logistic

    return logistic(x)


def b_from_d(a, d):
    """``b = -d / a``: the ability at which the logistic part is one half."""
    return -d / a


def d_from_b(a, b):
    """``d = -a * b``: the intercept of an item of difficulty ``b``."""
    return -a * b


def _is_2pl(c) -> bool:
    return c is None or not np.any(c)


def add_guessing(p, c):
    """The 3PL probability from the logistic part ``p`` and the lower asymptote ``c``.

    Separate from :func:`response` for the M-step, which needs both parts."""
    return c + (1.0 - c) * p


def response(theta, a, d, c=None):
    """``P(correct | theta)`` (see module docstring), broadcast over the arguments."""
    p = expit(a * theta + d)
    return p if _is_2pl(c) else add_guessing(p, c)


def log_response(theta, a, d, c=None):
    """``(log P, log(1 - P))`` of :func:`response`.

    The 2PL uses the forms ``-log(1 + exp(-eta))`` and ``-log(1 + exp(eta))``,
    exact where P rounds to 0 or 1; with a lower asymptote P is clipped to
    ``[1e-12, 1 - 1e-12]`` before the logs.
    """
    eta = a * theta + d
    if _is_2pl(c):
        return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    p = np.clip(add_guessing(expit(eta), c), _EPS, 1.0 - _EPS)
    return np.log(p), np.log1p(-p)


def item_information(theta, a, d, c=None):
    """Fisher information of one answer about theta, broadcast like :func:`response`.

    2PL: ``a^2 P (1 - P)``; 3PL: ``a^2 (P - c)^2 / (1 - c)^2 * (1 - P) / P``.
    """
    p = response(theta, a, d, c)
    if _is_2pl(c):
        return a**2 * p * (1.0 - p)
    return a**2 * (p - c) ** 2 / (1.0 - c) ** 2 * (1.0 - p) / p


def total_information(theta, a, d, c=None):
    """Test information at each ability of ``theta`` (1-D): the sum of the item
    informations of the items ``a, d, c`` (1-D).  The standard error of an ML
    ability estimate there is ``1 / sqrt`` of it."""
    return item_information(theta[:, None], a, d, c).sum(axis=1)


def item_arrays(items: pd.DataFrame, *, default_a: float | None = None, null_c_is_zero: bool = False):
    """``(a, d, c)`` float arrays from an items table indexed by ``item_id``.

    The table has ``a`` and ``d``, or ``a`` and ``b`` (then ``d = -a * b``),
    and optionally ``c`` (0 when absent).  ``default_a`` is the slope of a
    table without column ``a`` (Rasch anchors: 1); ``None`` requires the
    column.  ``null_c_is_zero`` reads a missing ``c`` as 0, as tables from the
    warehouse store no lower asymptote as NULL.  Anything else raises:
    ``TypeError`` for a non-DataFrame, ``ValueError`` naming the items for
    duplicate ids, non-finite parameters or ``c`` outside [0, 1), and for a
    missing column.
    """
    if not isinstance(items, pd.DataFrame):
        raise TypeError("items must be a DataFrame indexed by item_id")
    if items.index.has_duplicates:
        raise ValueError(f"items has duplicate ids: {_fmt(items.index[items.index.duplicated()])}")
    if "a" in items:
        a = items["a"].to_numpy(dtype=np.float64)
    elif default_a is not None:
        a = np.full(len(items), float(default_a))
    else:
        raise ValueError("items need column 'a'")
    if "d" in items:
        d = items["d"].to_numpy(dtype=np.float64)
    elif "b" in items:
        d = d_from_b(a, items["b"].to_numpy(dtype=np.float64))
    else:
        raise ValueError("items need column 'd' or 'b'")
    c = items["c"].to_numpy(dtype=np.float64) if "c" in items else np.zeros(a.size)
    if null_c_is_zero:
        c = np.where(np.isnan(c), 0.0, c)
    bad = ~(np.isfinite(a) & np.isfinite(d) & np.isfinite(c)) | (c < 0) | (c >= 1)
    if bad.any():
        raise ValueError(f"item parameters not finite or c outside [0, 1) for {_fmt(items.index[bad])}")
    return a, d, c


def exclusion_reasons(n, n_correct, min_responses: int, *, degenerate: bool = True) -> np.ndarray:
    """Why each item cannot be calibrated from its number of answers ``n`` and
    correct answers ``n_correct`` (arrays); ``""`` where it can.

    Fewer than ``min_responses`` answers is ``"fewer than N responses"``.  With
    ``degenerate``, answers that are all correct or all incorrect (the
    intercept's estimate runs off to infinity) are ``"all responses correct"``
    / ``"all responses incorrect"``.  The engine and the remote IRT service get
    the same rule and reasons, so both calibrate the same bank.
    """
    n = np.asarray(n)
    n_correct = np.asarray(n_correct)
    reasons = np.full(n.shape, "", dtype=object)
    few = n < min_responses
    reasons[few] = f"fewer than {min_responses} responses"
    if degenerate:
        reasons[(n_correct == n) & ~few] = "all responses correct"
        reasons[(n_correct == 0) & ~few] = "all responses incorrect"
    return reasons
