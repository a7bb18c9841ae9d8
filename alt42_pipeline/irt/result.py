"""What a calibration returns, whichever engine made it (binary in :mod:`.calibrate`, mixed
formats in :mod:`.poly`), and the information criteria both report. Imports nothing of the
engine, so both engines stand above it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd


def information_criteria(loglik: float, n_parameters: int, n_users: int) -> tuple[float, float]:
    """AIC and BIC from the marginal log-likelihood (BIC uses the number of users)."""
    aic = -2.0 * loglik + 2.0 * n_parameters
    bic = -2.0 * loglik + n_parameters * math.log(max(n_users, 1))
    return aic, bic


@dataclass
class CalibrationResult:
    """Result of :func:`calibrate`.

    ``items`` is indexed by ``item_id`` with columns ``a, d, b`` (``b = -d/a``),
    ``c`` (3PL only), their standard errors ``se_a, se_d, se_b`` (``se_c`` for
    the 3PL), ``n`` (responses) and ``fixed`` (anchor held at given values).
    """

    items: pd.DataFrame
    model: str
    loglik: float
    aic: float
    bic: float
    converged: bool
    iterations: int
    n_users: int
    n_responses: int
    n_parameters: int
    latent_mean: float
    latent_sd: float
    se_method: str | None
    excluded: pd.DataFrame
    elapsed: float
    loglik_history: list[float] = field(default_factory=list, repr=False)
    covariance: pd.DataFrame | None = field(default=None, repr=False)
    #: standard error of ``latent_sd`` where it is a free parameter of the information
    #: (the Rasch model without anchors); None otherwise
    latent_sd_se: float | None = None
