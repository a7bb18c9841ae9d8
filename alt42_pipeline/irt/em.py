"""The EM iteration both engines run (binary in :mod:`.calibrate`, mixed formats in
:mod:`.poly`): SQUAREM acceleration around one EM step, with a log-likelihood safeguard."""

from __future__ import annotations

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)


def max_change(x_new: np.ndarray, x_old: np.ndarray) -> float:
    """The largest absolute change of any parameter."""
    return float(np.max(np.abs(x_new - x_old))) if x_old.size else 0.0


def squarem(em_map, x0, valid, tol, max_iter, accelerate, change=max_change):
    """SQUAREM (Varadhan & Roland 2008, scheme S3) with a log-likelihood safeguard around
    ``em_map(x) -> (x_new, loglik)``; stops when an EM step's ``change(x_new, x)`` is below
    ``tol``, or after ``max_iter`` EM steps.  ``valid(x)`` rejects an extrapolated point.
    Returns ``(x, loglik history, EM steps, converged)``."""
    history: list[float] = []
    it = 0
    step_max = 4.0

    def step(x):
        nonlocal it
        x_new, ll = em_map(x)
        it += 1
        ch = change(x_new, x)
        history.append(ll)
        logger.debug("EM iteration %d: loglik %.6f, max parameter change %.3e", it, ll, ch)
        return x_new, ll, ch

    x_final = x0
    while it < max_iter:
        x1, _, ch = step(x0)
        if ch < tol:
            return x1, history, it, True
        if not accelerate or it >= max_iter:
            x0 = x_final = x1
            continue
        x2, ll1, ch2 = step(x1)
        if ch2 < tol:
            return x2, history, it, True
        r = x1 - x0
        v = (x2 - x1) - r
        vv = float(v @ v)
        alpha = -math.sqrt(float(r @ r) / vv) if vv > 0 else -1.0
        alpha = max(min(alpha, -1.0), -step_max)
        xn = x0 - 2.0 * alpha * r + alpha * alpha * v
        if alpha == -1.0 or not valid(xn) or it >= max_iter:
            x0 = x_final = x2
            continue
        x3, lln, ch3 = step(xn)
        if np.isfinite(lln) and lln >= ll1 - 1e-8 * abs(ll1):
            if alpha == -step_max:
                step_max *= 4.0
            x0 = x_final = x3
            if ch3 < tol:
                return x3, history, it, True
        else:
            step_max = max(1.0, step_max / 4.0)
            x0 = x_final = x2
    return x_final, history, it, False
