"""Linking and rescaling with polytomous items (mixed anchor sets).

The convention of :mod:`.linking`: ``theta_ref = slope * theta_new + intercept``; item
parameters move as ``a* = a / slope`` and every b-form threshold or step
``b_k* = slope * b_k + intercept`` (so GPCM ``d_k* = d_k - k a intercept / slope``, GRM
``d_k* = d_k - a intercept / slope``).

* ``"mean-mean"``: ``slope = mean(a_new) / mean(a_ref)``; ``"mean-sigma"``:
  ``slope = sd(loc_ref) / sd(loc_new)`` with each item's location (its average
  threshold, the difficulty of a binary item); both then take
  ``intercept = mean(loc_ref) - slope * mean(loc_new)``.
* ``"haebara"`` and ``"stocking-lord"``: as for binary items, with each item's
  characteristic curve its expected score ``sum_k k P_k(theta)`` (P(correct) for a binary
  item): Haebara sums the squared differences of the items' curves, Stocking-Lord takes
  the squared difference of their sums (the test characteristic curve).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ._messages import _fmt
from .polymodel import GRADED, PolyItems, expected_score, items_table, location, poly_item_arrays


def _read(items: pd.DataFrame, name: str) -> PolyItems:
    try:
        return poly_item_arrays(items, default_model="gpcm")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None


def transform(p: PolyItems, slope: float, intercept: float) -> PolyItems:
    """Items ``p`` moved onto the reference scale (see module docstring)."""
    score_k = np.where(p.kind[:, None] == GRADED, 1.0, np.arange(1, p.D.shape[1] + 1)[None, :])
    D = p.D - score_k * p.a[:, None] * intercept / slope
    return PolyItems(p.ids, p.model, p.kind, p.ncat, p.a / slope, D)


def link_mixed(new_items, reference_items, method, common, grid=None):
    """``(slope, intercept)`` putting ``new_items`` on ``reference_items``' scale over the
    ``common`` items (a mixed anchor set); see module docstring."""
    pn = _read(new_items.loc[common], "new_items")
    pr = _read(reference_items.loc[common], "reference_items")
    differ = pn.ncat != pr.ncat
    if differ.any():
        raise ValueError(f"common items with other numbers of categories in the two tables: {_fmt(common[differ])}")
    for name, p in (("new_items", pn), ("reference_items", pr)):
        if np.any(p.a <= 0):
            raise ValueError(f"{name} has non-positive slopes on common items {_fmt(common[p.a <= 0])}")
    ln, lr = location(pn.kind, pn.a, pn.D, pn.ncat), location(pr.kind, pr.a, pr.D, pr.ncat)
    if method == "mean-sigma":
        sn = np.std(ln)
        if sn <= 0:
            raise ValueError("mean-sigma needs common items with different locations")
        slope = float(np.std(lr) / sn)
    else:
        slope = float(pn.a.mean() / pr.a.mean())
    intercept = float(lr.mean() - slope * ln.mean())
    if method in ("haebara", "stocking-lord"):
        theta = np.linspace(-4, 4, 41) if grid is None else np.asarray(grid, dtype=float)
        wts = np.exp(-0.5 * theta**2)
        wts /= wts.sum()
        e_ref = expected_score(theta, pr.kind, pr.a, pr.D, pr.ncat)

        def crit(x):
            A, B = x
            if A <= 0:
                return 1e10
            q = transform(pn, A, B)
            e_new = expected_score(theta, q.kind, q.a, q.D, q.ncat)
            if method == "haebara":
                return float(((e_ref - e_new) ** 2).sum(axis=0) @ wts)
            return float((e_ref.sum(axis=0) - e_new.sum(axis=0)) ** 2 @ wts)

        res = minimize(
            crit,
            np.array([slope, intercept]),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000},
        )
        res = minimize(crit, res.x, method="BFGS", options={"gtol": 1e-12})
        slope, intercept = float(res.x[0]), float(res.x[1])
    return slope, intercept


def rescale_items(items: pd.DataFrame, slope: float, intercept: float) -> pd.DataFrame:
    """A mixed items table on the reference scale: parameters moved, ``se_a / slope``,
    ``se_b * slope``, intercepts' SEs NaN (they need the a-d covariances); other columns
    and attrs kept, the latent mean and SD moved."""
    p = transform(_read(items, "items"), slope, intercept)
    out = items.copy()
    moved = items_table(p)
    for col in moved.columns:
        out[col] = moved[col]
    if "se_a" in out:
        out["se_a"] = out["se_a"] / slope
    if "se_b" in out:
        out["se_b"] = out["se_b"] * slope
    for col in out.columns:
        if col.startswith("se_d"):
            out[col] = np.nan
    out.attrs["theta_mean"] = slope * float(items.attrs.get("theta_mean", 0.0)) + intercept
    out.attrs["theta_sd"] = slope * float(items.attrs.get("theta_sd", 1.0))
    return out
