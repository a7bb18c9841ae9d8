"""Fit statistics: information criteria (item fit is in :func:`item_fit`)."""

from __future__ import annotations

import math


def information_criteria(loglik: float, n_parameters: int, n_users: int) -> tuple[float, float]:
    """AIC and BIC from the marginal log-likelihood (BIC uses the number of users)."""
    aic = -2.0 * loglik + 2.0 * n_parameters
    bic = -2.0 * loglik + n_parameters * math.log(max(n_users, 1))
    return aic, bic
