"""Drift-robust anchoring: anchor drift statistics, purified linking with standard errors of
the constants, and the calibration-to-calibration drift report.

One leaked or miskeyed anchor shifts a whole linked scale, and testing anchors without their
estimates' standard errors flags drift that is sampling noise. Here:

* **Drift statistics** (:func:`anchor_drift`): for each anchor on the reference scale
  (``b* = slope * b_new + intercept``, ``a* = a_new / slope``), the displacement
  ``delta_b = b* - b_ref`` and ``delta_log_a = log(a* / a_ref)`` with their standard errors
  (the new estimate's, the reference's when the table has ``se_b``/``se_a``, and the linking
  constants'), a Wald statistic ``z_b^2 + z_a^2`` (chi-square, 2 df; the a-b covariance of
  an item is not used) and its p-value, and the robust z of ``delta_b`` (its distance from
  the anchors' median in units of 1.4826 median absolute deviations; reported, a check that
  needs no SEs).  An anchor drifts when the Wald p-value is below ``alpha`` *and* the
  displacement is practically large (``|delta_b| >= min_shift`` or ``|delta_log_a| >=
  min_log_a``): with millions of answers the SEs are tiny and every anchor would differ
  "significantly".
* **Purification** (:func:`link_purified`): link on the anchors in use, test every
  candidate, drop the worst drifting anchor in use, relink, until none in use drifts; anchors
  dropped on the way that no longer drift against the final constants come back (one
  relink).  Dropping one at a time keeps a group of drifting anchors from masking each other.
* **Standard errors of the linking constants** (:func:`linking_covariance`): the delta
  method over the anchors' item parameters (independent between items and between the two
  calibrations; within an item, a and b independent).  Mean-mean and mean-sigma are
  differentiated directly, Haebara and Stocking-Lord through the implicit function theorem
  (``d x / d p = -H^-1 d^2 F / dx dp`` at the minimum ``x`` of the criterion ``F``),
  numerically.
* **Drift report** (:func:`calibration_drift`): parameter changes of the items two
  calibrations on the reference scale share (not the anchors), with z statistics.

Plain numpy/pandas/scipy; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._messages import _fmt
from .linking import LinkingConstants, characteristic_curve_loss, closed_form_constants, link
from .model import b_from_d, item_arrays

ALPHA = 0.01
MIN_SHIFT = 0.25  # logits of difficulty
MIN_LOG_A = 0.25  # log slope ratio (about 28%)


@dataclass
class PurifiedLinking:
    """Result of :func:`link_purified`: the constants on the anchors kept, their standard
    errors, the drift statistics of every candidate anchor (``used``: in the final linking;
    ``drifting``: excluded for drift) and the number of linkings run."""

    constants: LinkingConstants
    slope_se: float
    intercept_se: float
    covariance: np.ndarray
    anchors: pd.DataFrame
    rounds: int
    excluded: list = field(default_factory=list)  # anchors kept out by the caller (review)

    @property
    def drifting(self) -> pd.Index:
        return self.anchors.index[self.anchors["drifting"]]

    def summary(self) -> dict:
        """Plain values for metadata and ``model_spec``."""
        return {
            "slope": self.constants.slope,
            "intercept": self.constants.intercept,
            "slope_se": self.slope_se,
            "intercept_se": self.intercept_se,
            "method": self.constants.method,
            "anchor_count": int(self.constants.n_anchors),
            "drifting_anchors": [str(i) for i in self.drifting],
            "excluded_anchors": [str(i) for i in self.excluded],
            "purification_rounds": self.rounds,
        }


def _params(items: pd.DataFrame):
    a, d, c = item_arrays(items)
    b = b_from_d(a, d)
    se_a = items["se_a"].to_numpy(float) if "se_a" in items else np.zeros(a.size)
    se_b = items["se_b"].to_numpy(float) if "se_b" in items else np.zeros(a.size)
    # a missing SE (rasch items have no se_a; reference tables often none) counts as exact
    return a, b, c, np.nan_to_num(se_a), np.nan_to_num(se_b)


def linking_covariance(
    new_items: pd.DataFrame, reference_items: pd.DataFrame, constants: LinkingConstants, grid=None
) -> np.ndarray:
    """2 x 2 covariance of ``(slope, intercept)`` by the delta method (module docstring),
    from the standard errors in the tables (``se_a``, ``se_b``; missing = exact)."""
    method = constants.method
    common = new_items.index.intersection(reference_items.index)
    an, bn, cn, san, sbn = _params(new_items.loc[common])
    ar, br, cr, sar, sbr = _params(reference_items.loc[common])
    k = common.size
    p0 = np.concatenate([an, bn, ar, br])
    sd = np.concatenate([san, sbn, sar, sbr])
    x0 = np.array([constants.slope, constants.intercept])

    def split(p):
        return p[:k], p[k : 2 * k], p[2 * k : 3 * k], p[3 * k :]

    cols = np.flatnonzero(sd > 0)
    J = np.zeros((2, p0.size))
    if method in ("haebara", "stocking-lord"):

        def F(x, p):
            a1, b1, a2, b2 = split(p)
            return characteristic_curve_loss(method, x, a1, b1, cn, a2, b2, cr, grid)

        hx = 1e-4 * np.maximum(1.0, np.abs(x0))

        def grad(x, p):
            g = np.empty(2)
            for i in range(2):
                e = np.zeros(2)
                e[i] = hx[i]
                g[i] = (F(x + e, p) - F(x - e, p)) / (2 * hx[i])
            return g

        H = np.empty((2, 2))
        for i in range(2):
            e = np.zeros(2)
            e[i] = hx[i]
            H[:, i] = (grad(x0 + e, p0) - grad(x0 - e, p0)) / (2 * hx[i])
        H = 0.5 * (H + H.T)
        C = np.zeros((2, p0.size))
        for j in cols:
            h = 1e-4 * max(1.0, abs(p0[j]))
            pp, pm = p0.copy(), p0.copy()
            pp[j] += h
            pm[j] -= h
            C[:, j] = (grad(x0, pp) - grad(x0, pm)) / (2 * h)
        J = -np.linalg.solve(H, C)
    else:
        for j in cols:
            h = 1e-6 * max(1.0, abs(p0[j]))
            pp, pm = p0.copy(), p0.copy()
            pp[j] += h
            pm[j] -= h
            fp = np.array(closed_form_constants(method, *split(pp)))
            fm = np.array(closed_form_constants(method, *split(pm)))
            J[:, j] = (fp - fm) / (2 * h)
    return (J * sd**2) @ J.T


def anchor_drift(
    new_items: pd.DataFrame,
    reference_items: pd.DataFrame,
    constants: LinkingConstants,
    covariance: np.ndarray | None = None,
    *,
    alpha: float = ALPHA,
    min_shift: float = MIN_SHIFT,
    min_log_a: float = MIN_LOG_A,
) -> pd.DataFrame:
    """Drift statistics of the common items of the two tables (module docstring), indexed
    by item_id: ``b_linked, b_ref, delta_b, se_delta_b, z_b, delta_log_a, se_delta_log_a,
    z_a, wald, p_value, robust_z, drifting``."""
    common = new_items.index.intersection(reference_items.index)
    an, bn, _, san, sbn = _params(new_items.loc[common])
    ar, br, _, sar, sbr = _params(reference_items.loc[common])
    A, B = constants.slope, constants.intercept
    V = np.zeros((2, 2)) if covariance is None else np.asarray(covariance)
    b_star = A * bn + B
    delta_b = b_star - br
    # var(A b + B) over the constants' uncertainty, plus the two estimates'
    var_link = bn**2 * V[0, 0] + V[1, 1] + 2 * bn * V[0, 1]
    var_b = (A * sbn) ** 2 + sbr**2 + var_link
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_la = np.where(an > 0, np.log(np.abs(an) / A) - np.log(ar), np.nan)
    var_la = (san / an) ** 2 + (sar / ar) ** 2 + V[0, 0] / A**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z_b = np.where(var_b > 0, delta_b / np.sqrt(var_b), np.nan)
        z_a = np.where(var_la > 0, delta_la / np.sqrt(var_la), np.nan)
    has_a = np.isfinite(z_a)
    wald = np.nan_to_num(z_b) ** 2 + np.where(has_a, z_a, 0.0) ** 2
    df = 1 + has_a.astype(int)
    from scipy.stats import chi2  # loaded by the runs that link, not by the code location

    p = chi2.sf(wald, df)
    p = np.where(np.isfinite(z_b), p, np.nan)
    med = np.median(delta_b)
    mad = 1.4826 * np.median(np.abs(delta_b - med))
    robust = (delta_b - med) / mad if mad > 0 else np.full(delta_b.size, np.nan)
    large = (np.abs(delta_b) >= min_shift) | (has_a & (np.abs(delta_la) >= min_log_a))
    drifting = ((p < alpha) & large) | ~(an > 0)
    return pd.DataFrame(
        {
            "b_linked": b_star,
            "b_ref": br,
            "delta_b": delta_b,
            "se_delta_b": np.sqrt(var_b),
            "z_b": z_b,
            "delta_log_a": delta_la,
            "se_delta_log_a": np.sqrt(var_la),
            "z_a": z_a,
            "wald": wald,
            "p_value": p,
            "robust_z": robust,
            "drifting": drifting,
        },
        index=common,
    )


def link_purified(
    new_items: pd.DataFrame,
    reference_items: pd.DataFrame,
    method: str = "stocking-lord",
    *,
    exclude=(),
    alpha: float = ALPHA,
    min_shift: float = MIN_SHIFT,
    min_log_a: float = MIN_LOG_A,
    min_anchors: int = 2,
    max_rounds: int = 50,
    grid=None,
) -> PurifiedLinking:
    """Link ``new_items`` to ``reference_items`` on their common items without the drifting
    ones (module docstring). ``exclude``: anchors kept out by the caller (e.g. waiting for
    review); they get statistics but are never used. Raises ``ValueError`` when fewer than
    ``min_anchors`` common items are available."""
    common = new_items.index.intersection(reference_items.index)
    excluded = [i for i in common if i in set(exclude)]
    candidates = common.difference(pd.Index(excluded, dtype=common.dtype))
    if len(candidates) < min_anchors:
        raise ValueError(
            f"linking needs at least {min_anchors} usable common items, found {len(candidates)}"
            + (f" ({len(excluded)} kept out for review: {_fmt(excluded)})" if excluded else "")
        )
    # a slope that is not positive (a miskeyed anchor) cannot be linked at all
    a_new = item_arrays(new_items.loc[candidates])[0]
    used = [i for i, a in zip(candidates, a_new) if a > 0]
    dropped: list = [i for i, a in zip(candidates, a_new) if not a > 0]
    if len(used) < min_anchors:
        raise ValueError(f"linking needs at least {min_anchors} common items with positive slopes, found {len(used)}")
    rounds = 0
    readmitted = False

    def run(ids):
        k = link(new_items.loc[ids], reference_items.loc[ids], method=method, min_anchors=min_anchors, grid=grid)
        cov = linking_covariance(new_items.loc[ids], reference_items.loc[ids], k, grid=grid)
        stats = anchor_drift(
            new_items.loc[common],
            reference_items.loc[common],
            k,
            cov,
            alpha=alpha,
            min_shift=min_shift,
            min_log_a=min_log_a,
        )
        return k, cov, stats

    while True:
        rounds += 1
        k, cov, stats = run(used)
        bad = stats.loc[used]
        bad = bad[bad["drifting"]]
        if len(bad) and len(used) > min_anchors and rounds < max_rounds:
            worst = bad["wald"].idxmax()
            used.remove(worst)
            dropped.append(worst)
            continue
        back = [i for i in dropped if not stats.loc[i, "drifting"]]
        if back and not readmitted and rounds < max_rounds:
            readmitted = True
            used += back
            dropped = [i for i in dropped if i not in back]
            continue
        break
    stats["used"] = stats.index.isin(used)
    stats["drifting"] = stats.index.isin(dropped) | (stats["drifting"] & ~stats["used"])
    stats["drifting"] &= ~stats.index.isin(excluded)
    stats["kept_out"] = stats.index.isin(excluded)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return PurifiedLinking(
        constants=LinkingConstants(k.slope, k.intercept, k.method, len(used)),
        slope_se=float(se[0]),
        intercept_se=float(se[1]),
        covariance=cov,
        anchors=stats,
        rounds=rounds,
        excluded=excluded,
    )


def calibration_drift(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    *,
    exclude=(),
    alpha: float = ALPHA,
    min_shift: float = MIN_SHIFT,
) -> pd.DataFrame:
    """Parameter changes of the items two calibrations (both on the reference scale) share,
    without ``exclude`` (the anchors): ``a_prev, a, delta_a, b_prev, b, delta_b, z_b``
    (``delta_b`` over the two SEs when the tables have ``se_b``) and ``changed`` (``p <
    alpha`` two-sided and ``|delta_b| >= min_shift``), sorted by ``|delta_b|``, largest
    first."""
    common = previous.index.intersection(current.index).difference(pd.Index(list(exclude), dtype=object))
    if len(common) == 0:
        return pd.DataFrame(columns=["a_prev", "a", "delta_a", "b_prev", "b", "delta_b", "z_b", "changed"])
    ap, bp, _, _, sbp = _params(previous.loc[common])
    ac, bc, _, _, sbc = _params(current.loc[common])
    delta_b = bc - bp
    se = np.sqrt(sbp**2 + sbc**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, delta_b / se, np.nan)
    from scipy.stats import norm

    crit = float(norm.isf(alpha / 2))
    changed = (np.abs(np.nan_to_num(z)) > crit) & (np.abs(delta_b) >= min_shift)
    out = pd.DataFrame(
        {"a_prev": ap, "a": ac, "delta_a": ac - ap, "b_prev": bp, "b": bc, "delta_b": delta_b, "z_b": z},
        index=common,
    )
    out["changed"] = changed
    return out.reindex(out["delta_b"].abs().sort_values(ascending=False).index)


def drift_summary(report: pd.DataFrame, top: int = 10) -> dict:
    """Plain values of a :func:`calibration_drift` report for metadata."""
    if report.empty:
        return {"items_compared": 0, "changed": 0, "median_abs_delta_b": None, "largest": []}
    return {
        "items_compared": int(len(report)),
        "changed": int(report["changed"].sum()),
        "median_abs_delta_b": float(report["delta_b"].abs().median()),
        "largest": [
            {"item_id": str(i), "delta_b": round(float(r.delta_b), 3), "z_b": _round(r.z_b)}
            for i, r in report.head(top).iterrows()
        ],
    }


def _round(v):
    return None if not np.isfinite(v) else round(float(v), 2)
