"""Scale linking over common (anchor) items and rescaling to the reference.

Convention: ``theta_ref = slope * theta_new + intercept``; item parameters
move as ``a* = a / slope``, ``b* = slope * b + intercept``, ``c* = c``.

* ``"mean-mean"``: ``slope = mean(a_new) / mean(a_ref)``.
* ``"mean-sigma"``: ``slope = sd(b_ref) / sd(b_new)``.
  Both then set ``intercept = mean(b_ref) - slope * mean(b_new)``.
* ``"haebara"``: minimises the squared differences of the item characteristic
  curves, summed over the common items, integrated over a theta grid
  weighted by N(0, 1) on the reference scale.
* ``"stocking-lord"``: minimises the squared difference of the test
  characteristic curves (sum over the common items) on the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._messages import _fmt
from .model import b_from_d, d_from_b, item_arrays, response
from .polymodel import is_polytomous_table

METHODS = ("mean-mean", "mean-sigma", "haebara", "stocking-lord")


@dataclass(frozen=True)
class LinkingConstants:
    """``theta_ref = slope * theta_new + intercept``."""

    slope: float
    intercept: float
    method: str
    n_anchors: int


def link(
    new_items: pd.DataFrame,
    reference_items: pd.DataFrame,
    method: str = "stocking-lord",
    *,
    min_anchors: int = 2,
    grid: np.ndarray | None = None,
) -> LinkingConstants:
    """Linking constants putting ``new_items``' scale onto ``reference_items``'.

    Common items are those whose ``item_id`` (index) appears in both tables;
    there must be at least ``min_anchors`` of them.
    """
    method = str(method).lower().replace("_", "-")
    if method in ("stockinglord", "sl"):
        method = "stocking-lord"
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    common = new_items.index.intersection(reference_items.index)
    if len(common) < min_anchors:
        raise ValueError(f"linking needs at least {min_anchors} common items, found {len(common)}: {_fmt(common)}")
    # --- mixed anchor sets (polytomous items, n_categories column): irt/polylink.py ---
    if is_polytomous_table(new_items) or is_polytomous_table(reference_items):
        from .polylink import link_mixed

        slope, intercept = link_mixed(new_items, reference_items, method, common, grid)
        return LinkingConstants(slope=slope, intercept=intercept, method=method, n_anchors=len(common))
    # --- end of the mixed-format dispatch ---
    an, dn, cn = item_arrays(new_items.loc[common])
    ar, dr, cr = item_arrays(reference_items.loc[common])
    for name, arr in (("new_items", an), ("reference_items", ar)):
        if np.any(arr <= 0):
            raise ValueError(f"{name} has non-positive slopes on common items {_fmt(common[arr <= 0])}")
    bn, br = b_from_d(an, dn), b_from_d(ar, dr)
    slope, intercept = closed_form_constants(method, an, bn, ar, br)
    if method in ("haebara", "stocking-lord"):

        def crit(x):
            return characteristic_curve_loss(method, x, an, bn, cn, ar, br, cr, grid)

        from scipy.optimize import minimize  # loaded by the runs that link, not by every importer

        res = minimize(
            crit,
            np.array([slope, intercept]),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000},
        )
        res = minimize(crit, res.x, method="BFGS", options={"gtol": 1e-12})
        slope, intercept = float(res.x[0]), float(res.x[1])
    return LinkingConstants(slope=slope, intercept=intercept, method=method, n_anchors=len(common))


def _grid(grid):
    theta = np.linspace(-4, 4, 41) if grid is None else np.asarray(grid, dtype=float)
    wts = np.exp(-0.5 * theta**2)
    return theta, wts / wts.sum()


def characteristic_curve_loss(method, x, an, bn, cn, ar, br, cr, grid=None) -> float:
    """The Haebara or Stocking-Lord criterion at constants ``x = (slope, intercept)`` for
    common items with new parameters ``an, bn, cn`` and reference ``ar, br, cr`` (arrays)."""
    theta, wts = _grid(grid)
    A, B = x
    if A <= 0:
        return 1e10
    p_ref = response(theta[:, None], ar, d_from_b(ar, br), cr)
    a_star = an / A
    b_star = A * bn + B
    p_new = response(theta[:, None], a_star, d_from_b(a_star, b_star), cn)
    if method == "haebara":
        return float(wts @ ((p_ref - p_new) ** 2).sum(axis=1))
    return float(wts @ (p_ref.sum(axis=1) - p_new.sum(axis=1)) ** 2)


def closed_form_constants(method, an, bn, ar, br) -> tuple[float, float]:
    """Mean-mean / mean-sigma constants (also the start of the curve methods)."""
    if method == "mean-sigma":
        sn = np.std(bn)
        if sn <= 0:
            raise ValueError("mean-sigma needs common items with different difficulties")
        slope = float(np.std(br) / sn)
    else:
        slope = float(np.mean(an) / np.mean(ar))
    return slope, float(np.mean(br) - slope * np.mean(bn))


def rescale(items: pd.DataFrame | None, abilities: pd.DataFrame | None, constants: LinkingConstants):
    """Put item parameters and abilities on the reference scale.

    Items: ``a / slope``, ``b * slope + intercept``, ``d = -a* b*``; ``c``
    unchanged; ``se_a / slope``, ``se_b * slope``; ``se_d`` becomes NaN (it
    needs the a-d covariance).  Abilities: ``theta * slope + intercept``,
    ``se * slope``.  Returns ``(items, abilities)`` (copies; ``None`` passes
    through).
    """
    A, B = constants.slope, constants.intercept
    out_items = None
    # --- mixed items tables: irt/polylink.py ---
    if is_polytomous_table(items):
        from .polylink import rescale_items

        out_items, items = rescale_items(items, A, B), None
    # --- end of the mixed-format dispatch ---
    if items is not None:
        a, d, _ = item_arrays(items)
        out_items = items.copy()
        a_new = a / A
        b_new = A * b_from_d(a, d) + B
        out_items["a"] = a_new
        out_items["b"] = b_new
        out_items["d"] = d_from_b(a_new, b_new)
        if "se_a" in out_items:
            out_items["se_a"] = out_items["se_a"] / A
        if "se_b" in out_items:
            out_items["se_b"] = out_items["se_b"] * A
        if "se_d" in out_items:
            out_items["se_d"] = np.nan
        mean = float(items.attrs.get("theta_mean", 0.0))
        sd = float(items.attrs.get("theta_sd", 1.0))
        out_items.attrs["theta_mean"] = A * mean + B
        out_items.attrs["theta_sd"] = A * sd
    out_ab = None
    if abilities is not None:
        out_ab = abilities.copy()
        out_ab["theta"] = A * out_ab["theta"] + B
        if "se" in out_ab:
            out_ab["se"] = out_ab["se"] * A
    return out_items, out_ab
