"""Fit statistics: information criteria, item fit on sparse data (RMSD, infit/outfit) and the
S-X2 item-fit statistic (complete data only).

On this platform's data most students answer a small part of the bank, so summed scores,
on which S-X2 rests, do not exist: :func:`sparse_item_fit` is the item fit for such data and
:func:`item_fit` refuses incomplete data unless asked to use only the complete cases.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import chi2

from . import mstep as ms
from .data import prepare_responses
from .estep import GridEStep, person_grids, quadrature, required_nodes
from .model import item_arrays, response

logger = logging.getLogger(__name__)


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
    complete_cases: bool = False,
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

    Degrees of freedom for Rasch/1PL tables: groups minus 1 (the item's intercept);
    R mirt's ``itemfit`` uses groups minus 2 for the Rasch model (it also counts the
    latent variance), so its p-values there are a little smaller.

    Summed scores need complete data. Data where some person did not answer every item in
    ``items`` raise ``ValueError`` (use :func:`sparse_item_fit`), unless
    ``complete_cases=True``: then only the persons who answered every item are used, with a
    warning; the number used is in column ``n_used``.  Returns a DataFrame indexed by
    item_id with ``S_X2, df, p_value, n_used``.
    """
    a, d, c = item_arrays(items)
    data, _ = prepare_responses(responses, item_ids=items.index)
    J = a.size
    lens = np.diff(data.offsets)
    complete = np.flatnonzero(lens == J)
    if complete.size == 0:
        raise ValueError("S-X2 needs persons who answered every item; none did (use sparse_item_fit)")
    if complete.size < data.n_users:
        share = f"{complete.size} of {data.n_users} persons answered every item"
        if not complete_cases:
            raise ValueError(
                f"S-X2 needs complete data: only {share}; use sparse_item_fit (RMSD, infit/outfit) "
                "or complete_cases=True"
            )
        logger.warning("S-X2 on complete cases only: %s", share)
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


def sparse_item_fit(
    responses: pd.DataFrame, items: pd.DataFrame, *, quadpts: int = 41, abilities: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Item fit that needs no complete data, per item of ``items``:

    * ``rmsd``: the root mean squared difference between the item's observed and model
      characteristic curves, weighted by the ability distribution of the persons who
      answered it (as in PISA and TIMSS): ``sqrt(sum_q n_q (r_q / n_q - P(theta_q))^2 /
      sum_q n_q)`` with ``r_q``, ``n_q`` the expected numbers of correct answers and of
      answers at node ``q`` under each person's posterior (one E-step).  0 for a perfect
      fit; PISA flags items above 0.12 (0.15 in some cycles).
    * ``infit``, ``outfit``: information-weighted and unweighted mean squares of the
      residuals ``x - P(theta)`` at the persons' EAP abilities (``abilities``: columns
      ``user_id, theta``; computed when not given).  Near 1 for a fitting item; under 1
      (overfit, too steep) or over 1 (underfit, too flat or miskeyed).  Abilities shrunk
      towards the prior make them somewhat smaller than with ML abilities.
    * ``n``: the number of answers.

    Items need ``a`` and ``d`` (or ``b``) and optionally ``c``; the latent mean and SD are
    read from ``items.attrs`` (``theta_mean``, ``theta_sd``) as by :func:`.score`.
    """
    from .scoring import score  # local import: scoring imports this package's E-step helpers

    a, d, c = item_arrays(items)
    data, _ = prepare_responses(responses, item_ids=items.index)
    mu = float(items.attrs.get("theta_mean", 0.0))
    sd = float(items.attrs.get("theta_sd", 1.0))
    nodes = required_nodes(data, a, d, c, mu, sd, quadpts, (-6.0, 6.0))
    estep = GridEStep(person_grids(nodes, data, (-6.0, 6.0)))
    r, n, _, _, theta = estep.run(lambda th: ms.log_tables(th, a, d, c), mu, sd)
    P = response(theta[None, :], a[:, None], d[:, None], c[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.where(n > 0, r / np.where(n > 0, n, 1.0), 0.0)
        rmsd = np.sqrt((n * (obs - P) ** 2).sum(axis=1) / n.sum(axis=1))

    if abilities is None:
        abilities = score(responses, items, "eap")
    th_user = abilities.set_index("user_id")["theta"].reindex(data.user_ids)
    if th_user.isna().any():
        raise ValueError("abilities miss users of responses")
    person = np.repeat(np.arange(data.n_users), np.diff(data.offsets))
    j = data.codes >> 1
    x = (data.codes & 1).astype(float)
    p = response(th_user.to_numpy()[person], a[j], d[j], c[j])
    var = p * (1.0 - p)
    res2 = (x - p) ** 2
    J = a.size
    cnt = np.bincount(j, minlength=J).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = np.bincount(j, weights=res2 / var, minlength=J) / cnt
        infit = np.bincount(j, weights=res2, minlength=J) / np.bincount(j, weights=var, minlength=J)
    return pd.DataFrame({"rmsd": rmsd, "infit": infit, "outfit": outfit, "n": cnt.astype(np.int64)}, index=items.index)
