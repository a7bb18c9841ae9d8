"""Ability scoring: EAP, MAP and ML.

* ``"eap"``: posterior mean over the quadrature grid, ``se`` = posterior SD; each person
  on a grid fine enough for their posterior (``quadpts`` nodes, finer for students with
  many answers; see :mod:`.estep`).
* ``"map"``: posterior mode (Fisher scoring with step halving) under the
  normal prior; ``se = 1 / sqrt(observed information + 1 / prior_sd^2)`` (the observed
  information, minus the second derivative of the log-likelihood at the estimate; equal to
  the test information for the 2PL, not for the 3PL).
* ``"ml"``: likelihood maximum, theta kept within ``[-bound, bound]``;
  ``se = 1 / sqrt(observed information)`` likewise.  Perfect and zero scores have no finite
  ML estimate: they get ``theta = +bound`` / ``-bound``, ``se = NaN`` and
  ``flag = "all_correct"`` / ``"all_incorrect"``; other estimates stopped by
  the bound get ``flag = "at_bound"``.

The prior is N(``prior_mean``, ``prior_sd``^2); by default it is read from
``items.attrs`` (``theta_mean``, ``theta_sd``, set by :func:`calibrate`; the
Rasch model's estimated latent SD lives there), else N(0, 1).
"""

from __future__ import annotations

import logging
import time

import numba
import numpy as np
import pandas as pd

from . import kernels
from . import mstep as ms
from .data import prepare_responses
from .estep import person_grids, required_nodes
from .model import item_arrays
from .polymodel import is_polytomous_table

logger = logging.getLogger(__name__)

METHODS = ("eap", "map", "ml")


def score(
    responses: pd.DataFrame,
    items: pd.DataFrame,
    method: str = "eap",
    *,
    prior_mean: float | None = None,
    prior_sd: float | None = None,
    quadpts: int = 61,
    theta_lim: tuple[float, float] = (-6.0, 6.0),
    bound: float = 6.0,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> pd.DataFrame:
    """Score users on the items' scale.

    Returns a DataFrame with columns ``user_id, theta, se, n, flag`` (``n`` =
    number of responses, ``flag`` see module docstring), one row per user in
    ``responses``.  Responses on items missing from ``items`` raise
    ``ValueError`` naming them.
    """
    # --- mixed-format items tables (n_categories column): irt/poly.py ---
    if is_polytomous_table(items):
        from .poly import score_mixed

        return score_mixed(
            responses, items, method, prior_mean=prior_mean, prior_sd=prior_sd, quadpts=quadpts,
            theta_lim=theta_lim, bound=bound, max_iter=max_iter, tol=tol,
        )  # fmt: skip
    # --- end of the mixed-format dispatch ---
    t0 = time.perf_counter()
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    a, d, c = item_arrays(items)
    mu = float(items.attrs.get("theta_mean", 0.0)) if prior_mean is None else float(prior_mean)
    sd = float(items.attrs.get("theta_sd", 1.0)) if prior_sd is None else float(prior_sd)
    if not sd > 0:
        raise ValueError("prior_sd must be positive")
    data, _ = prepare_responses(responses, item_ids=items.index, sort_within_users=False)
    offsets, codes = data.offsets, data.codes
    nu = data.n_users

    mean = np.empty(nu)
    post_sd = np.empty(nu)
    ll = np.empty(nu)
    n_right = np.empty(nu, dtype=np.int64)
    # each person on a grid fine enough for their posterior (see .estep)
    nodes = required_nodes(data, a, d, c, mu, sd, quadpts, theta_lim)
    for grid in person_grids(nodes, data, theta_lim):
        gd = grid.data
        theta_nodes = mu + sd * grid.z
        logtab = ms.log_tables(theta_nodes, a, d, c)
        k = grid.persons.size
        g_mean, g_sd, g_ll, g_right = np.empty(k), np.empty(k), np.empty(k), np.empty(k, dtype=np.int64)
        bounds = kernels.chunk_bounds(gd.offsets, 16 * numba.get_num_threads())
        with numba.parallel_chunksize(1):
            kernels.eap(
                gd.offsets,
                gd.codes,
                logtab.astype(np.float32),
                grid.logw.astype(np.float32),
                theta_nodes,
                bounds,
                g_mean,
                g_sd,
                g_ll,
                g_right,
            )
        mean[grid.persons], post_sd[grid.persons], ll[grid.persons], n_right[grid.persons] = (
            g_mean,
            g_sd,
            g_ll,
            g_right,
        )
    n_ans = np.diff(offsets)
    flag = np.full(nu, "", dtype=object)
    if method == "eap":
        theta, se = mean, post_sd
    else:
        prec = 0.0 if method == "ml" else 1.0 / sd**2
        theta = np.empty(nu)
        se = np.empty(nu)
        iters = np.empty(nu, dtype=np.int64)
        with numba.parallel_chunksize(64):
            kernels.newton_theta(offsets, codes, a, d, c, mean, mu, prec, float(bound), max_iter, tol, theta, se, iters)
        if method == "ml":
            perfect = n_right == n_ans
            zero = n_right == 0
            theta[perfect] = bound
            theta[zero] = -bound
            se[perfect | zero] = np.nan
            flag[perfect] = "all_correct"
            flag[zero] = "all_incorrect"
            at_bound = (np.abs(theta) >= bound - 1e-9) & ~(perfect | zero)
            flag[at_bound] = "at_bound"
            if (perfect | zero).any():
                logger.info(
                    "ML scoring: %d perfect and %d zero scores set to +/-%g (flagged)",
                    int(perfect.sum()),
                    int(zero.sum()),
                    bound,
                )
    out = pd.DataFrame(
        {
            "user_id": data.user_ids.to_numpy(),
            "theta": theta,
            "se": se,
            "n": n_ans,
            "flag": flag,
        }
    )
    logger.info("scored %d users (%s) in %.3f s", nu, method, time.perf_counter() - t0)
    return out
