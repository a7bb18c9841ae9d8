"""Fit statistics: information criteria and the S-X2 item-fit statistic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import chi2

from .data import prepare_responses
from .estep import quadrature
from .model import item_arrays, response


def information_criteria(loglik: float, n_parameters: int, n_users: int) -> tuple[float, float]:
    """AIC and BIC from the marginal log-likelihood (BIC uses the number of users)."""
    aic = -2.0 * loglik + 2.0 * n_parameters
    bic = -2.0 * loglik + n_parameters * math.log(max(n_users, 1))
    return aic, bic


def _summed_score_likelihood(P: np.ndarray) -> np.ndarray:
    """Lord-Wingersky recursion: ``L[s, q] = P(sum score = s | theta_q)`` for
    the items in the rows of ``P`` (items x nodes)."""
    n_q = P.shape[1]
    L = np.zeros((P.shape[0] + 1, n_q))
    L[0] = 1.0
    for i, p in enumerate(P):
        new = L[: i + 2].copy()
        new[: i + 1] *= 1.0 - p
        new[1 : i + 2] += L[: i + 1] * p
        L[: i + 2] = new
    return L


def item_fit(
    responses: pd.DataFrame,
    items: pd.DataFrame,
    *,
    quadpts: int = 61,
    min_expected: float = 1.0,
    n_parameters: int | None = None,
) -> pd.DataFrame:
    """Orlando & Thissen's (2000) S-X2 item-fit statistic.

    For each item, persons are grouped by their summed score on all items;
    the observed proportion correct per group is compared with the model's
    expectation ``sum_q P_j(theta_q) f_{-j}(s - 1 | theta_q) w_q / sum_q
    f(s | theta_q) w_q`` (``f`` from the Lord-Wingersky recursion).  Score
    groups are merged from both tails until expected counts of correct and
    incorrect answers are at least ``min_expected``.  Degrees of freedom are
    groups minus the item's free parameters (``n_parameters``; default 1 for
    Rasch/1PL-like tables with equal slopes, 2 otherwise, 3 with ``c``).

    Summed scores need complete data: only persons who answered every item in
    ``items`` are used; the number used is in column ``n_used``.  Returns a
    DataFrame indexed by item_id with ``S_X2, df, p_value, n_used``.
    """
    a, d, c = item_arrays(items)
    data, _ = prepare_responses(responses, item_ids=items.index)
    J = a.size
    lens = np.diff(data.offsets)
    complete = np.flatnonzero(lens == J)
    if complete.size == 0:
        raise ValueError("S-X2 needs persons who answered every item; none did")
    # Responses of complete persons, items in order (codes are sorted by item).
    idx = data.offsets[complete][:, None] + np.arange(J)[None, :]
    X = (data.codes[idx] & 1).astype(np.int64)
    total = X.sum(axis=1)
    mu = float(items.attrs.get("theta_mean", 0.0))
    sd = float(items.attrs.get("theta_sd", 1.0))
    z, logw = quadrature(quadpts)
    theta = mu + sd * z
    w = np.exp(logw)
    P = response(theta[None, :], a[:, None], d[:, None], c[:, None])
    f_all = _summed_score_likelihood(P) @ w  # (J+1,)
    if n_parameters is None:
        n_parameters = (3 if np.any(c > 0) else 2) if np.ptp(a) > 1e-12 else 1
    out = []
    for j in range(J):
        Lm = _summed_score_likelihood(np.delete(P, j, axis=0))  # scores 0..J-1
        # expected P(correct on j | total score s) for s = 1..J-1
        s = np.arange(1, J)
        num = (Lm[s - 1] * P[j][None, :]) @ w
        E = num / f_all[s]
        N = np.bincount(total, minlength=J + 1)[1:J].astype(float)
        observed = np.bincount(total, weights=X[:, j], minlength=J + 1)[1:J]
        groups = _collapse(N, observed, E, min_expected)
        stat = 0.0
        for Ng, Og, Eg in groups:
            if Ng > 0 and 0 < Eg < 1:
                stat += Ng * (Og / Ng - Eg) ** 2 / (Eg * (1 - Eg))
        df = len(groups) - n_parameters
        p = float(chi2.sf(stat, df)) if df > 0 else float("nan")
        out.append((stat, df, p, complete.size))
    return pd.DataFrame(out, index=items.index, columns=["S_X2", "df", "p_value", "n_used"])


def _collapse(N, observed, E, min_expected):
    """Merge score groups from the tails inwards until each group's expected
    correct and incorrect counts reach ``min_expected``; returns a list of
    ``(n, observed correct, expected proportion)``."""
    cells = [[n, o, n * e] for n, o, e in zip(N, observed, E) if n > 0]

    def small(cell):
        return cell[2] < min_expected or cell[0] - cell[2] < min_expected

    for _ in range(2):
        # left tail
        while len(cells) > 1 and small(cells[0]):
            n, o, ex = cells.pop(0)
            cells[0] = [cells[0][0] + n, cells[0][1] + o, cells[0][2] + ex]
        cells.reverse()
    return [(n, o, ex / n) for n, o, ex in cells]
