"""Marginal maximum likelihood calibration (Bock-Aitkin EM).

Models (parametrisation as R mirt: ``P = c + (1 - c) * logistic(a*theta + d)``,
``theta ~ N(0, 1)``):

* ``"2pl"``: ``a`` and ``d`` per item.
* ``"3pl"``: plus the lower asymptote ``c`` (estimated as ``logit(c)``); by
  default with a ``Beta(5, 17)`` prior on ``c`` (mean ~0.23), because the 3PL
  lower asymptote is weakly identified without one.
* ``"1pl"``: one slope ``a`` common to all items, ``d`` per item, N(0, 1).
* ``"rasch"``: R mirt's Rasch itemtype: ``a = 1`` for every item and the
  latent variance estimated (reported as ``latent_sd``; scoring reads it from
  ``items.attrs["theta_sd"]``).  Without anchors it is fitted as the
  equivalent 1PL (slope = latent SD), which converges faster.

The EM map is accelerated with SQUAREM (Varadhan & Roland 2008, scheme S3,
with a log-likelihood safeguard).  Convergence: the largest absolute change
of the parameter vector (``a``, ``d``, ``logit c``, latent mean and log SD)
in one EM step is below ``tol`` (R mirt's default 1e-4), with ``c`` read on its own scale
(not ``logit c``) and slopes and intercepts beyond 1 relative to their size, so items whose
lower asymptote goes to 0, or whose slope runs off (near-separating items, flagged in
``items["flag"]``), do not hold the EM up for thousands of iterations.

Anchors: ``fixed`` holds items at given values; the latent mean and SD of
the calibration sample are then estimated too (the anchors carry the scale).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from . import mstep as ms
from ._messages import _fmt
from .data import prepare_responses
from .em import squarem
from .estep import GRID_MARGIN, GridEStep, person_grids, required_nodes
from .model import b_from_d, item_arrays
from .polymodel import POLY_MODELS
from .result import CalibrationResult, information_criteria

logger = logging.getLogger(__name__)

MODELS = ("rasch", "1pl", "2pl", "3pl")
DEFAULT_C_PRIOR = (5.0, 17.0)
#: Largest absolute slope the EM moves an item to. Without a prior, an item whose answers
#: (nearly) separate the persons has no finite slope: the EM raises it forever. Such an
#: item is held here, the rest of the calibration converges, and the item is flagged.
SLOPE_BOUND = 20.0
#: Beyond this slope an item is flagged as near-separating (its estimate is not to be
#: trusted, whatever its SE says).
SEPARATING_SLOPE = 10.0
#: Quadrature rounds at most: the EM converges on the persons' grids, the grids are checked
#: against the converged parameters and refined where needed, and the EM continues.
GRID_ROUNDS = 4


# --------------------------------------------------------------------------
# parameter state <-> vector


@dataclass
class _Layout:
    model: str
    free: np.ndarray  # items estimated
    common_slope: bool  # one slope shared by the free items
    slope_fixed_one: bool  # rasch with anchors: a = 1 everywhere
    has_c: bool
    free_mean: bool
    free_sd: bool

    def pack(self, a, d, g, mean, sd):
        parts = []
        f = self.free
        if self.common_slope:
            parts.append(a[f][:1])
        elif not self.slope_fixed_one:
            parts.append(a[f])
        parts.append(d[f])
        if self.has_c:
            parts.append(g[f])
        if self.free_mean:
            parts.append([mean])
        if self.free_sd:
            parts.append([math.log(sd)])
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])

    def change(self, x_new, x_old) -> float:
        """The largest change of one EM step, on the scale the convergence criterion reads:
        ``c`` itself rather than ``logit c`` (an item whose lower asymptote goes to 0 drifts
        in ``logit c`` forever while ``c`` no longer moves), and slopes and intercepts
        relative to their size beyond 1 (a near-separating item's slope grows without bound
        by ever smaller relative steps; it is flagged, see :func:`item_flags`)."""
        diff = np.abs(x_new - x_old)
        scale = np.maximum(1.0, np.abs(x_old))
        if self.has_c:
            k = int(self.free.sum())
            start = (1 if self.common_slope else (0 if self.slope_fixed_one else k)) + k
            gs = slice(start, start + k)
            diff[gs] = np.abs(expit(x_new[gs]) - expit(x_old[gs]))
            scale[gs] = 1.0
        return float(np.max(diff / scale)) if diff.size else 0.0

    def unpack(self, x, a, d, g, mean, sd):
        a, d = a.copy(), d.copy()
        g = g.copy() if g is not None else None
        f = self.free
        k = int(f.sum())
        pos = 0
        if self.common_slope:
            a[f] = x[pos]
            pos += 1
        elif not self.slope_fixed_one:
            a[f] = x[pos : pos + k]
            pos += k
        d[f] = x[pos : pos + k]
        pos += k
        if self.has_c:
            g[f] = x[pos : pos + k]
            pos += k
        if self.free_mean:
            mean = float(x[pos])
            pos += 1
        if self.free_sd:
            sd = float(math.exp(x[pos]))
            pos += 1
        return a, d, g, mean, sd


def _check_fixed(fixed: pd.DataFrame, model: str) -> pd.DataFrame:
    """Anchors as a table of ``a, d, c``, read like any items table (errors
    start with ``fixed:``).  Rasch anchors may leave out ``a`` (it is 1) but
    not set another; only the 3PL takes anchors with ``c > 0``."""
    try:
        a, d, c = item_arrays(fixed, default_a=1.0 if model == "rasch" else None)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"fixed: {exc}") from None
    out = pd.DataFrame({"a": a, "d": d, "c": c}, index=fixed.index)
    if model == "rasch" and not np.allclose(out["a"], 1.0):
        raise ValueError(f"rasch anchors must have a = 1; items {_fmt(out.index[~np.isclose(out['a'], 1.0)])} do not")
    if model != "3pl" and (out["c"] != 0).any():
        raise ValueError(f"anchors with c > 0 need model='3pl'; items {_fmt(out.index[out['c'] != 0])}")
    return out


def calibrate(
    responses: pd.DataFrame,
    model: str = "2pl",
    *,
    fixed: pd.DataFrame | None = None,
    quadpts: int = 41,
    theta_lim: tuple[float, float] = (-6.0, 6.0),
    tol: float = 1e-4,
    max_iter: int = 2000,
    accelerate: bool = True,
    a_prior: tuple[float, float] | None = None,
    c_prior: tuple[float, float] | None | str = "default",
    se: bool = True,
    min_item_responses: int = 10,
    on_invalid: str = "raise",
    start: pd.DataFrame | None = None,
    default: str = "2pl",
    **mixed_options,
) -> CalibrationResult:
    """Calibrate item parameters by marginal maximum likelihood (EM).

    Polytomous and mixed formats: ``model`` a mapping ``item_id -> model`` (``default``
    for the others) or ``"gpcm"``, ``"pcm"``, ``"grm"`` calibrates with
    :func:`.poly.calibrate_mixed` (its options in ``mixed_options``).

    Parameters
    ----------
    responses:
        Long format: ``user_id``, ``item_id``, ``correct`` (0/1); a missing
        response is an absent row.
    model:
        ``"rasch"``, ``"1pl"``, ``"2pl"`` or ``"3pl"`` (see module docstring).
    fixed:
        Anchor items held at given values: DataFrame indexed by ``item_id``
        with ``a`` and ``d`` (or ``b``), and ``c`` for the 3PL.  The latent
        mean and SD are then estimated.
    quadpts, theta_lim:
        Rectangular quadrature (default 41 nodes on [-6, 6]) for persons with few answers;
        persons whose posterior is narrower get finer nested grids (see :mod:`.estep`).
    tol, max_iter:
        Stop when the largest parameter change of an EM step is below
        ``tol``; ``max_iter`` bounds the number of EM steps (E-steps).
    accelerate:
        SQUAREM acceleration of the EM map.
    a_prior:
        ``(meanlog, sdlog)`` of a lognormal prior on the slopes.
    c_prior:
        ``(alpha, beta)`` of a beta prior on ``c`` (3PL); ``"default"`` is
        Beta(5, 17); ``None`` for none.
    se:
        Standard errors of the item parameters from the observed information
        (see :mod:`.se`).
    min_item_responses, on_invalid:
        Items with fewer responses, or with all answers correct / all
        incorrect, raise ``ValueError`` naming them (``on_invalid="raise"``) or
        are excluded and listed in ``result.excluded`` (``"exclude"``).
    start:
        Optional starting values (DataFrame indexed by item_id with a, d[, c]).
    """
    # --- polytomous / mixed formats: their own engine, same result type (irt/poly.py) ---
    if isinstance(model, Mapping) or str(model).lower() in POLY_MODELS:
        if c_prior not in ("default", None):
            raise ValueError("c_prior does not apply to mixed formats (no lower asymptote)")
        from .poly import calibrate_mixed

        return calibrate_mixed(
            responses, model, default=default, fixed=fixed, quadpts=quadpts, theta_lim=theta_lim, tol=tol,
            max_iter=max_iter, accelerate=accelerate, a_prior=a_prior, se=se, min_item_responses=min_item_responses,
            on_invalid=on_invalid, start=start, **mixed_options,
        )  # fmt: skip
    if mixed_options:
        raise TypeError(f"options {sorted(mixed_options)} apply only to polytomous or mixed calibrations")
    # --- end of the mixed-format dispatch ---
    t0 = time.perf_counter()
    model = str(model).lower()
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if tol <= 0:
        raise ValueError("tol must be positive")
    if c_prior == "default":
        c_prior = DEFAULT_C_PRIOR if model == "3pl" else None
    if a_prior is not None and model in ("rasch",):
        raise ValueError("a_prior does not apply to the rasch model (a = 1)")
    priors = ms.Priors(a_lognormal=a_prior, c_beta=c_prior)

    data, excluded = prepare_responses(
        responses,
        min_item_responses=min_item_responses,
        check_degenerate_items=True,
        on_invalid=on_invalid,
    )
    J = data.n_items
    items_index = data.item_ids

    # Anchors.
    is_fixed = np.zeros(J, dtype=bool)
    a = np.ones(J)
    p = np.clip(data.item_correct / np.maximum(data.item_n, 1), 0.02, 0.98)
    d = logit(p) * 1.2
    has_c = model == "3pl"
    g = np.full(J, logit(0.2)) if has_c else None
    if has_c:
        d = logit(np.clip((p - 0.2) / 0.8, 0.02, 0.98)) * 1.2
    if fixed is not None and len(fixed):
        fx = _check_fixed(fixed, model)
        unused = fx.index.difference(items_index)
        if len(unused):
            logger.warning("fixed items without responses are not used: %s", _fmt(unused))
        pos = items_index.get_indexer(fx.index)
        sel = pos >= 0
        pos = pos[sel]
        is_fixed[pos] = True
        a[pos] = fx["a"].to_numpy()[sel]
        d[pos] = fx["d"].to_numpy()[sel]
        if has_c:
            g[pos] = logit(np.clip(fx["c"].to_numpy()[sel], 1e-6, 1 - 1e-6))
    if start is not None:
        pos = items_index.get_indexer(start.index)
        sel = pos >= 0
        pos = pos[sel]
        keep = ~is_fixed[pos]
        pos, rows = pos[keep], np.flatnonzero(sel)[keep]
        if "a" in start and model in ("2pl", "3pl"):
            a[pos] = start["a"].to_numpy()[rows]
        if "d" in start:
            d[pos] = start["d"].to_numpy()[rows]
        if "c" in start and has_c:
            g[pos] = logit(np.clip(start["c"].to_numpy()[rows], 1e-4, 1 - 1e-4))
    free = ~is_fixed
    if not free.any():
        raise ValueError("all items are fixed; nothing to calibrate")
    anchored = bool(is_fixed.any())

    if model == "rasch" and not anchored:
        # Rasch (a = 1, free variance) is the 1PL with slope = latent SD.
        layout = _Layout("rasch", free, True, False, False, False, False)
    elif model == "rasch":
        layout = _Layout("rasch", free, False, True, False, True, True)
    else:
        layout = _Layout(model, free, model == "1pl", False, has_c, anchored, anchored)
    _check_identified(layout, J, model)

    mean, sd = 0.0, 1.0

    def nodes_for(x, margin=1.0):
        """Each person's number of quadrature nodes at the parameters ``x`` (see :mod:`.estep`)."""
        aa, dd, gg, mu, sg = layout.unpack(x, a, d, g, mean, sd)
        return required_nodes(data, aa, dd, expit(gg) if has_c else None, mu, sg, quadpts, theta_lim, margin)

    def em_map(x):
        aa, dd, gg, mu, sg = layout.unpack(x, a, d, g, mean, sd)
        c = expit(gg) if has_c else None
        r, n, node_tot, ll, theta = estep.run(lambda th: ms.log_tables(th, aa, dd, c), mu, sg)
        if layout.common_slope:
            na, nd = ms.mstep_common_slope(r, n, theta, aa, dd, free, priors)
            ng = None
        else:
            cols = [1] if layout.slope_fixed_one else ([0, 1, 2] if has_c else [0, 1])
            na, nd, ng = ms.mstep_items(r, n, theta, aa, dd, gg, free, cols, priors)
            if 0 in cols:
                # near-separating items: the slope is held at the bound (and flagged)
                na = np.clip(na, -SLOPE_BOUND, SLOPE_BOUND)
        nmu, nsg = ms.mstep_latent(node_tot, theta, layout.free_mean, layout.free_sd, mu, sg)
        return layout.pack(na, nd, ng, nmu, nsg), ll

    def valid(x):
        if not np.all(np.isfinite(x)):
            return False
        aa, _, _, _, sg = layout.unpack(x, a, d, g, mean, sd)
        if priors.a_lognormal is not None and np.any(aa[free] <= 0):
            return False
        return 1e-3 < sg < 1e3

    x0 = layout.pack(a, d, g, mean, sd)
    history: list[float] = []
    it = 0
    converged = False
    x_final = x0

    estep = GridEStep(person_grids(nodes_for(x0, GRID_MARGIN), data, theta_lim))
    # The grids follow the parameters: at convergence each person's grid is checked against
    # the converged slopes and latent SD, and the EM continues on finer grids where needed.
    for grid_round in range(1, GRID_ROUNDS + 1):
        x_final, steps, n_steps, converged = squarem(
            em_map, x0, valid, tol, max_iter - it, accelerate, change=layout.change
        )
        history += steps
        it += n_steps
        if not converged:
            break
        have = estep.nodes
        short = int(np.sum(nodes_for(x_final) > have))
        if not short:
            break
        if grid_round == GRID_ROUNDS:
            # The EM has converged on the grids it used; only the grids of these persons are a
            # little coarser than the check asks for at the final parameters.
            logger.warning(
                "EM converged; after %d quadrature rounds %d persons' grids are still coarser "
                "than their posterior width asks for",
                GRID_ROUNDS,
                short,
            )
            break
        logger.info("EM continues on finer quadrature for %d persons", short)
        nodes = np.maximum(nodes_for(x_final, GRID_MARGIN), have)
        # the old grids' copies of the responses go before the new ones are made
        estep = None
        estep = GridEStep(person_grids(nodes, data, theta_lim))
        x0 = x_final

    a, d, g, mean, sd = layout.unpack(x_final, a, d, g, mean, sd)
    loglik = history[-1] if history else float("nan")
    if not converged:
        logger.warning("EM did not converge in %d iterations (tol %.1e)", it, tol)

    # Report on the scale of the model.
    if layout.model == "rasch" and layout.common_slope:
        latent_sd = float(a[free][0])
        latent_mean = 0.0
    else:
        latent_sd, latent_mean = sd, mean

    from .se import item_standard_errors  # local import: se imports this module's helpers

    ses = None
    se_method = None
    cov = None
    if se:
        ses, se_method, cov = item_standard_errors(data, layout, a, d, g, mean, sd, estep.grids, priors, items_index)

    if layout.model == "rasch" and layout.common_slope:
        a_out = np.ones(J)
    else:
        a_out = a
    out = pd.DataFrame(index=items_index)
    out["a"] = a_out
    out["d"] = d
    out["b"] = b_from_d(a_out, d)
    if has_c:
        out["c"] = expit(g)
    for col in ("se_a", "se_d", "se_b") + (("se_c",) if has_c else ()):
        out[col] = np.nan if ses is None else ses[col]
    out["n"] = data.item_n
    out["fixed"] = is_fixed
    out["flag"] = item_flags(out, latent_sd if layout.model != "rasch" else 1.0)
    if (out["flag"] != "").any():
        bad = out[out["flag"] != ""]
        logger.warning(
            "%d item(s) flagged: %s", len(bad), "; ".join(f"{i}: {f}" for i, f in bad["flag"].head(10).items())
        )
    out.attrs["model"] = model
    out.attrs["theta_mean"] = latent_mean
    out.attrs["theta_sd"] = latent_sd

    n_par = _count_parameters(layout)
    aic, bic = information_criteria(loglik, n_par, data.n_users)
    elapsed = time.perf_counter() - t0
    logger.info(
        "calibrated %s: %d items (%d fixed), %d users, %d responses; loglik %.4f, "
        "%d EM iterations, converged=%s, %.3f s",
        model,
        J,
        int(is_fixed.sum()),
        data.n_users,
        data.n_responses,
        loglik,
        it,
        converged,
        elapsed,
    )
    return CalibrationResult(
        items=out,
        model=model,
        loglik=loglik,
        aic=aic,
        bic=bic,
        converged=converged,
        iterations=it,
        n_users=data.n_users,
        n_responses=data.n_responses,
        n_parameters=n_par,
        latent_mean=latent_mean,
        latent_sd=latent_sd,
        se_method=se_method,
        excluded=excluded,
        elapsed=elapsed,
        loglik_history=history,
        covariance=cov,
        latent_sd_se=None if ses is None else ses.get("latent_sd"),
    )


def _check_identified(layout: _Layout, n_items: int, model: str) -> None:
    """Refuse a model with more free parameters than the data have free response-pattern
    probabilities (``2^J - 1`` for ``J`` items): a one-item 2PL (2 parameters, 1 pattern
    probability) or a two-item 2PL (4 against 3) cannot be identified, and the EM would
    stop at its start values and report convergence."""
    n_par = _count_parameters(layout)
    capacity = 2 ** min(n_items, 60) - 1
    if n_par > capacity:
        raise ValueError(
            f"the {model} model is not identified with {n_items} item(s): {n_par} free parameters "
            f"but only {capacity} free response-pattern probabilities; add items (or anchors) or "
            "use a model with fewer parameters (rasch/1pl)"
        )


def item_flags(items: pd.DataFrame, latent_sd: float = 1.0) -> pd.Series:
    """Per item, why its estimate is not to be trusted (``""`` when nothing is wrong):
    ``"near-separating (a = ...)"`` for a slope beyond :data:`SEPARATING_SLOPE` on the
    N(0, 1) scale of the calibration sample (its answers nearly separate the persons, the
    slope has no finite estimate), ``"standard errors not finite"`` where the information
    of the item is singular. Items held fixed are never flagged."""
    flags = pd.Series("", index=items.index, dtype=object)
    free = ~items["fixed"].to_numpy(dtype=bool) if "fixed" in items else np.ones(len(items), dtype=bool)
    a_z = items["a"].to_numpy(dtype=float) * latent_sd
    sep = free & (np.abs(a_z) >= SEPARATING_SLOPE)
    flags[sep] = [f"near-separating (a = {v:.1f})" for v in items["a"].to_numpy()[sep]]
    # the SE columns this calibration filled (none without SEs; no se_a for rasch/1pl)
    se_cols = [c for c in ("se_a", "se_d", "se_c") if c in items and np.isfinite(items[c].to_numpy(float)).any()]
    if se_cols:
        broken = free & ~sep & ~np.isfinite(items[se_cols].to_numpy(dtype=float)).all(axis=1)
        flags[broken] = "standard errors not finite"
    return flags


def _count_parameters(layout: _Layout) -> int:
    k = int(layout.free.sum())
    if layout.common_slope:
        n = 1 + k
    elif layout.slope_fixed_one:
        n = k
    else:
        n = 2 * k
    if layout.has_c:
        n += k
    n += int(layout.free_mean) + int(layout.free_sd)
    return n
