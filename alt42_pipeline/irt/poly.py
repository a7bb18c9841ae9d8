"""Polytomous and mixed-format calibration and scoring (Bock-Aitkin EM).

    fit = calibrate(responses, model={"item_7": "gpcm", "item_9": "grm"}, default="2pl")
    fit = calibrate(responses, model="gpcm")        # every item GPCM ("pcm", "grm")
    abilities = score(responses, fit.items, method="eap")   # "map", "ml"

Each item has its own model: ``"2pl"`` (binary), ``"gpcm"``, ``"pcm"`` (GPCM with one
slope shared by the calibration's PCM items) or ``"grm"`` (formulas and the items table
in :mod:`.polymodel`).  ``model`` is one name for every item or a mapping ``item_id ->
name`` with ``default`` for the others.  Responses are long format with the category
``0..K-1`` in ``category`` (else ``correct``); see :mod:`.polydata` for the number of
categories and unobserved categories.

The machinery is the binary engine's: responses coded CSR-by-person (one table row per
item category, so the E-step and EAP kernels of :mod:`.kernels` are shared), SQUAREM
acceleration with a log-likelihood safeguard, priors (lognormal on slopes, normal on
intercepts), anchors held at given values (the latent mean and SD are then estimated),
Louis standard errors and EAP/MAP/ML scoring.  ``quadrature="gauss-hermite"`` uses
Gauss-Hermite nodes (``numpy.polynomial.hermite_e.hermegauss``, weights normalised), as
python mirt does; the default is the binary engine's rectangular grid.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from . import kernels, polykernels
from . import polymstep as pm
from ._messages import _fmt
from .em import squarem
from .estep import quadrature as rectangular
from .polydata import PolyData, prepare
from .polymodel import (
    ADJACENT,
    GRADED,
    MIXED_MODELS,
    PolyItems,
    b_from_intercepts,
    intercept_columns,
    items_table,
    log_category_probs,
    poly_item_arrays,
)
from .result import CalibrationResult, information_criteria

logger = logging.getLogger(__name__)

QUADRATURES = ("rectangular", "gauss-hermite")
MAX_DENSE = 4000
#: Memory for the Louis term by pairs of answers (answers x answers x nodes per thread);
#: above it, the term by pairs of parameters (slower, no extra memory).
PAIRS_MAX_BYTES = 256 * 2**20


def quadrature(n_points: int, kind: str = "rectangular", theta_lim=(-6.0, 6.0)):
    """``(nodes, log_weights)`` of N(0, 1): the rectangular grid of :mod:`.estep` or
    Gauss-Hermite (probabilists') nodes with normalised weights."""
    if kind == "rectangular":
        return rectangular(n_points, theta_lim)
    if kind == "gauss-hermite":
        z, w = np.polynomial.hermite_e.hermegauss(int(n_points))
        return z, np.log(w / w.sum())
    raise ValueError(f"quadrature must be one of {QUADRATURES}, got {kind!r}")


def item_models(item_ids: pd.Index, model, default: str) -> np.ndarray:
    """The model name of each item from ``model`` (a name or a mapping) and ``default``."""
    default = str(default).lower()
    if isinstance(model, Mapping):
        names = pd.Series({k: str(v).lower() for k, v in model.items()}, dtype=object)
        out = np.array(names.reindex(item_ids).fillna(default).to_numpy(dtype=object), dtype=object)
        unused = names.index.difference(item_ids)
        if len(unused):
            logger.info("models given for items without responses: %s", _fmt(unused))
    else:
        out = np.full(len(item_ids), str(model).lower(), dtype=object)
    bad = ~np.isin(out, MIXED_MODELS)
    if bad.any():
        raise ValueError(
            f"item models must be among {MIXED_MODELS} in a mixed calibration; "
            f"got {sorted(set(out[bad]))} for items {_fmt(item_ids[bad])}"
        )
    return out


@dataclass
class _State:
    a: np.ndarray
    D: np.ndarray  # items x (most categories - 1), NaN padded
    mean: float
    sd: float


class _Layout:
    """Which numbers are estimated, packed into one vector for SQUAREM."""

    def __init__(self, models, ncat, free, anchored):
        self.models = models
        self.ncat = ncat
        self.free = free
        self.pcm = (models == "pcm") & free
        self.own_slope = free & ~self.pcm
        m = int(ncat.max()) - 1
        self.dmask = (np.arange(m)[None, :] < (ncat[:, None] - 1)) & free[:, None]
        self.common = bool(self.pcm.any())
        self.free_latent = anchored
        self.kind = np.where(models == "grm", GRADED, ADJACENT)
        # Items updated together: same kind and number of categories.
        self.groups = []
        for kd in (ADJACENT, GRADED):
            for K in np.unique(ncat):
                idx = np.flatnonzero(free & (self.kind == kd) & (ncat == K))
                if idx.size:
                    self.groups.append((kd, int(K), idx))

    def pack(self, s: _State) -> np.ndarray:
        parts = [s.a[self.own_slope], s.D[self.dmask]]
        if self.common:
            parts.append(s.a[self.pcm][:1])
        if self.free_latent:
            parts.append([s.mean, math.log(s.sd)])
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])

    def unpack(self, x, s: _State) -> _State:
        a, D = s.a.copy(), s.D.copy()
        pos = 0
        k = int(self.own_slope.sum())
        a[self.own_slope] = x[pos : pos + k]
        pos += k
        k = int(self.dmask.sum())
        D[self.dmask] = x[pos : pos + k]
        pos += k
        if self.common:
            a[self.pcm] = x[pos]
            pos += 1
        mean, sd = s.mean, s.sd
        if self.free_latent:
            mean, sd = float(x[pos]), float(math.exp(x[pos + 1]))
        return _State(a, D, mean, sd)

    def n_parameters(self) -> int:
        return int(self.own_slope.sum() + self.dmask.sum() + self.common + 2 * self.free_latent)


def _log_table(theta, kind, a, D, ncat):
    """Rows ``row_start[j] + k`` = ``log P(X_j = k | theta_q)``."""
    logP = log_category_probs(theta, kind, a, D, ncat)
    valid = np.arange(logP.shape[1])[None, :] < ncat[:, None]
    return logP[valid]


class _EStep:
    """Expected counts per item, category and node (``R``: items x categories x nodes)."""

    def __init__(self, data: PolyData, n_nodes: int):
        self.data = data
        threads = numba.get_num_threads()
        n_chunks = int(np.clip(data.n_responses // 16384, threads, 32 * threads))
        self.bounds = kernels.chunk_bounds(data.offsets, n_chunks)
        self.chunk_ll = np.empty(self.bounds.shape[0] - 1)
        self.acc = np.zeros((threads, int(data.row_start[-1]), n_nodes))
        self.node_tot = np.zeros((threads, n_nodes))
        m = int(data.ncat.max())
        self.valid = np.arange(m)[None, :] < data.ncat[:, None]

    def run(self, logtab, logprior):
        threads = numba.get_num_threads()
        if threads > self.acc.shape[0]:
            self.acc = np.zeros((threads, *self.acc.shape[1:]))
            self.node_tot = np.zeros((threads, self.node_tot.shape[1]))
        self.acc[:threads] = 0.0
        self.node_tot[:threads] = 0.0
        with numba.parallel_chunksize(1):
            kernels.estep(
                self.data.offsets,
                self.data.codes,
                np.ascontiguousarray(logtab, dtype=np.float32),
                np.ascontiguousarray(logprior, dtype=np.float32),
                self.bounds,
                self.acc,
                self.node_tot,
                self.chunk_ll,
            )
        acc = self.acc[:threads].sum(axis=0)
        R = np.zeros((*self.valid.shape, acc.shape[1]))
        R[self.valid] = acc
        return R, self.node_tot[:threads].sum(axis=0), float(self.chunk_ll.sum())


def _start_values(data: PolyData, models, kind):
    """Intercepts from the category proportions (adjacent: log odds of category k to
    0; graded: logit of P(X >= k)), slope 1."""
    J = data.n_items
    m = int(data.ncat.max()) - 1
    D = np.full((J, m), np.nan)
    props = (data.counts + 0.5) / (data.counts + 0.5).sum(axis=1, keepdims=True)
    for j in range(J):
        K = data.ncat[j]
        pj = props[j, :K]
        if kind[j] == GRADED:
            ge = np.cumsum(pj[::-1])[::-1][1:]
            D[j, : K - 1] = np.log(ge / (1 - ge))
        else:
            D[j, : K - 1] = np.log(pj[1:] / pj[0])
    return np.ones(J), D


def _check_fixed(fixed: pd.DataFrame, models) -> PolyItems:
    try:
        return poly_item_arrays(fixed, default_model="gpcm")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"fixed: {exc}") from None


def calibrate_mixed(
    responses: pd.DataFrame,
    model="gpcm",
    *,
    default: str = "2pl",
    n_categories=None,
    fixed: pd.DataFrame | None = None,
    quadpts: int = 41,
    theta_lim: tuple[float, float] = (-6.0, 6.0),
    quadrature_rule: str = "rectangular",
    tol: float = 1e-4,
    max_iter: int = 2000,
    accelerate: bool = True,
    a_prior: tuple[float, float] | None = None,
    d_prior: tuple[float, float] | None = None,
    se: bool = True,
    min_item_responses: int = 10,
    on_invalid: str = "raise",
    start: pd.DataFrame | None = None,
):
    """Calibrate binary and polytomous items together (see module docstring).

    Options as :func:`.calibrate.calibrate`, plus ``default`` (model of items ``model``
    does not name), ``n_categories`` (mapping item -> K; default highest observed + 1),
    ``quadrature_rule`` (``"rectangular"`` or ``"gauss-hermite"``) and ``d_prior``
    (``(mean, sd)`` normal prior on intercepts).  Returns a
    :class:`.result.CalibrationResult` whose ``items`` is the mixed items table of
    :mod:`.polymodel` with ``se_a``, ``se_d1..`` (``se_d``, ``se_b`` for binary items),
    ``n`` and ``fixed``; ``model`` is ``"mixed"`` unless every item has the same model.
    """

    t0 = time.perf_counter()
    if tol <= 0:
        raise ValueError("tol must be positive")
    z, logw = quadrature(quadpts, quadrature_rule, theta_lim)
    priors = pm.PolyPriors(a_lognormal=a_prior, d_normal=d_prior)
    data, excluded = prepare(
        responses,
        n_categories=n_categories,
        min_item_responses=min_item_responses,
        check_items=True,
        on_invalid=on_invalid,
    )
    ids = data.item_ids
    J = data.n_items
    models = item_models(ids, model, default)
    binary_as_2pl = (models == "2pl") & (data.ncat != 2)
    if binary_as_2pl.any():
        raise ValueError(
            f"items {_fmt(ids[binary_as_2pl])} are '2pl' but have more than 2 categories; give them a polytomous model"
        )
    kind = np.where(models == "grm", GRADED, ADJACENT)
    a, D = _start_values(data, models, kind)
    is_fixed = np.zeros(J, dtype=bool)
    if fixed is not None and len(fixed):
        fx = _check_fixed(fixed, models)
        pos = ids.get_indexer(fx.ids)
        unused = fx.ids[pos < 0]
        if len(unused):
            logger.warning("fixed items without responses are not used: %s", _fmt(unused))
        sel = np.flatnonzero(pos >= 0)
        pos = pos[sel]
        wrong = fx.ncat[sel] != data.ncat[pos]
        if wrong.any():
            raise ValueError(
                f"fixed: items {_fmt(ids[pos[wrong]])} have other numbers of categories than the responses"
            )
        if "model" in fixed:
            models[pos] = fx.model[sel]
            kind = np.where(models == "grm", GRADED, ADJACENT)
        is_fixed[pos] = True
        a[pos] = fx.a[sel]
        m = min(fx.D.shape[1], D.shape[1])
        D[pos, :m] = fx.D[sel, :m]
    if start is not None:
        st = poly_item_arrays(start.loc[start.index.isin(ids)], default_model="gpcm")
        pos = ids.get_indexer(st.ids)
        keep = ~is_fixed[pos] & (st.ncat == data.ncat[pos])
        a[pos[keep]] = st.a[keep]
        m = min(st.D.shape[1], D.shape[1])
        D[pos[keep], :m] = st.D[keep, :m]
    free = ~is_fixed
    if not free.any():
        raise ValueError("all items are fixed; nothing to calibrate")
    pcm = (models == "pcm") & free
    if pcm.any():
        a[pcm] = float(np.mean(a[pcm]))
    anchored = bool(is_fixed.any())
    layout = _Layout(models, data.ncat, free, anchored)
    estep = _EStep(data, z.size)
    state0 = _State(a, D, 0.0, 1.0)

    def em_map(x):
        s = layout.unpack(x, state0)
        theta = s.mean + s.sd * z
        R, node_tot, ll = estep.run(_log_table(theta, kind, s.a, s.D, data.ncat), logw)
        a_new, D_new = s.a.copy(), s.D.copy()
        pcm_groups = []
        for kd, K, idx in layout.groups:
            p = np.column_stack([s.a[idx], s.D[idx, : K - 1]])
            own = ~layout.pcm[idx]
            if own.any():
                p[own] = pm.newton(kd, R[idx[own], :K], theta, p[own], np.arange(K), priors)
            if (~own).any():
                p[~own] = pm.newton(kd, R[idx[~own], :K], theta, p[~own], np.arange(1, K), priors)
                pcm_groups.append((kd, R[idx[~own], :K], p[~own]))
            a_new[idx] = p[:, 0]
            D_new[idx, : K - 1] = p[:, 1:]
        if pcm_groups:
            a_new[layout.pcm] = pm.common_slope(pcm_groups, theta, priors)
        mu, sg = _latent(node_tot, theta, layout.free_latent, s.mean, s.sd)
        return layout.pack(_State(a_new, D_new, mu, sg)), ll

    def valid(x):
        if not np.all(np.isfinite(x)):
            return False
        s = layout.unpack(x, state0)
        if priors.a_lognormal is not None and np.any(s.a[free] <= 0):
            return False
        g = (kind == GRADED) & free & (data.ncat > 2)
        if g.any():
            if ((np.diff(s.D[g], axis=1) >= 0) & layout.dmask[g][:, 1:]).any():
                return False
        return 1e-3 < s.sd < 1e3

    x_final, history, it, converged = squarem(em_map, layout.pack(state0), valid, tol, max_iter, accelerate)
    s = layout.unpack(x_final, state0)
    loglik = history[-1] if history else float("nan")
    if not converged:
        logger.warning("EM did not converge in %d iterations (tol %.1e)", it, tol)

    p_items = PolyItems(ids, models.astype(object), kind, data.ncat, s.a, s.D)
    out = items_table(p_items)
    m = s.D.shape[1]
    se_cols = ["se_a", *[f"se_{c}" for c in intercept_columns(m)], "se_d", "se_b"]
    ses = {c: np.full(J, np.nan) for c in se_cols}
    se_method = cov = None
    if se:
        ses, se_method, cov = standard_errors(data, layout, kind, s, z, logw, priors)
    for c in se_cols:
        out[c] = ses[c]
    out["n"] = data.item_n
    out["fixed"] = is_fixed
    names = sorted(set(models))
    model_name = names[0] if len(names) == 1 else "mixed"
    out.attrs["model"] = model_name
    out.attrs["theta_mean"] = s.mean
    out.attrs["theta_sd"] = s.sd
    n_par = layout.n_parameters()
    aic, bic = information_criteria(loglik, n_par, data.n_users)
    elapsed = time.perf_counter() - t0
    logger.info(
        "calibrated %s: %d items (%d polytomous, %d fixed), %d users, %d responses; loglik %.4f, "
        "%d EM iterations, converged=%s, %.3f s",
        model_name,
        J,
        int((data.ncat > 2).sum()),
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
        model=model_name,
        loglik=loglik,
        aic=aic,
        bic=bic,
        converged=converged,
        iterations=it,
        n_users=data.n_users,
        n_responses=data.n_responses,
        n_parameters=n_par,
        latent_mean=s.mean,
        latent_sd=s.sd,
        se_method=se_method,
        excluded=excluded,
        elapsed=elapsed,
        loglik_history=history,
        covariance=cov,
    )


def _latent(node_tot, theta, free, mean, sd):
    if not free:
        return mean, sd
    w = node_tot / node_tot.sum()
    new_mean = float(w @ theta)
    return new_mean, float(np.sqrt(w @ (theta - new_mean) ** 2))


# --------------------------------------------------------------------------
# standard errors


def standard_errors(data: PolyData, layout: _Layout, kind, s: _State, z, logw, priors, max_dense=None):
    """Louis observed information (see :mod:`.se`), on the N(0, 1) scale of the nodes
    and mapped back to the reported scale; conditional on the latent mean and SD when
    those are estimated.  ``(se columns, method, covariance DataFrame or None)``."""
    if max_dense is None:
        max_dense = MAX_DENSE
    J = data.n_items
    ncat = data.ncat
    free = layout.free
    # Items on the z scale: theta = mean + sd * z.
    score_k = np.where(kind[:, None] == GRADED, 1.0, np.arange(1, ncat.max())[None, :])
    az = s.a * s.sd
    Dz = s.D + s.a[:, None] * s.mean * score_k
    logtab = _log_table(z, kind, az, Dz, ncat)
    R, _, _ = _EStep(data, z.size).run(logtab, logw)

    fidx = np.flatnonzero(free)
    npar = ncat[fidx]
    slot = np.full(J, -1, dtype=np.int64)
    slot[fidx] = np.concatenate([[0], np.cumsum(npar)[:-1]])
    n_raw = int(npar.sum())
    kmax = int(ncat.max())
    A = np.zeros((n_raw, n_raw)) if n_raw <= max_dense else None
    blocks = {}
    dlog = np.zeros((int(data.row_start[-1]), z.size, kmax))
    for kd, K, idx in layout.groups:
        p = np.column_stack([az[idx], Dz[idx, : K - 1]])
        Rg = R[idx, :K]
        H = np.zeros((idx.size, K, K))
        for c in range(K):
            h = 1e-5 * np.maximum(1.0, np.abs(p[:, c]))
            pp, pmn = p.copy(), p.copy()
            pp[:, c] += h
            pmn[:, c] -= h
            gp, _ = pm.gradient_information(kd, Rg, z, pp, priors)
            gm, _ = pm.gradient_information(kd, Rg, z, pmn, priors)
            H[:, :, c] = (gp - gm) / (2 * h[:, None])
        Aj = -0.5 * (H + np.transpose(H, (0, 2, 1)))
        dl = pm.dlog_probs(kd, z, p)  # (g, K, Q, K)
        for i, j in enumerate(idx):
            blocks[j] = Aj[i]
            if A is not None:
                A[slot[j] : slot[j] + K, slot[j] : slot[j] + K] = Aj[i]
            dlog[data.row_start[j] : data.row_start[j] + K, :, :K] = dl[i]
    code_item = data.code_item
    code_slot = slot[code_item]
    code_npar = ncat[code_item].astype(np.int64)
    dense = A is not None
    bounds = kernels.chunk_bounds(data.offsets, (1 if dense else 4) * numba.get_num_threads())
    nch = bounds.shape[0] - 1
    n_rows = int(data.row_start[-1])
    if dense and nch * n_rows * n_rows * z.size * 8 <= PAIRS_MAX_BYTES:
        B = _louis_by_pairs(data, logtab, logw, dlog, bounds, code_slot, code_npar, n_raw)
    else:
        out = np.zeros((nch, n_raw, n_raw)) if dense else np.zeros((nch, n_raw, kmax))
        with numba.parallel_chunksize(1):
            polykernels.louis_accumulate(
                data.offsets,
                data.codes,
                np.ascontiguousarray(logtab),
                np.ascontiguousarray(logw),
                np.ascontiguousarray(dlog),
                bounds,
                code_slot,
                code_npar,
                out,
                not dense,
            )
        B = out.sum(axis=0)
        if dense:
            B = B + B.T - np.diag(np.diag(B))
    # Raw parameters (a_j, d_j1..) -> estimated ones (PCM items share one slope).
    raw_to_free = np.zeros(n_raw, dtype=np.int64)
    labels = []
    pos = 0
    common_col = None
    for j in fidx:
        for c in range(ncat[j]):
            if c == 0 and layout.pcm[j]:
                if common_col is None:
                    common_col = pos
                    labels.append("a_pcm")
                    pos += 1
                raw_to_free[slot[j]] = common_col
            else:
                raw_to_free[slot[j] + c] = pos
                labels.append(f"a[{data.item_ids[j]}]" if c == 0 else f"d{c}[{data.item_ids[j]}]")
                pos += 1
    n_free = pos
    if dense:
        M = np.zeros((n_raw, n_free))
        M[np.arange(n_raw), raw_to_free] = 1.0
        info = M.T @ (A - B) @ M
        try:
            cov_free = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov_free = np.linalg.pinv(info)
        cov_raw = M @ cov_free @ M.T
        item_cov = {j: cov_raw[slot[j] : slot[j] + ncat[j], slot[j] : slot[j] + ncat[j]] for j in fidx}
        method = "louis"
    else:
        # Within-item blocks only; PCM intercepts conditional on the common slope, whose
        # variance sums the items' Schur complements.
        item_cov = {}
        schur = 0.0
        for j in fidx:
            K = ncat[j]
            Ij = blocks[j] - B[slot[j] : slot[j] + K, :K]
            Ij = 0.5 * (Ij + Ij.T)
            if layout.pcm[j]:
                Idd = Ij[1:, 1:]
                schur += Ij[0, 0] - Ij[0, 1:] @ np.linalg.solve(Idd, Ij[1:, 0])
                cj = np.zeros((K, K))
                cj[1:, 1:] = np.linalg.inv(Idd)
                item_cov[j] = cj
            else:
                item_cov[j] = np.linalg.inv(Ij)
        if layout.pcm.any():
            for j in np.flatnonzero(layout.pcm):
                item_cov[j][0, 0] = 1.0 / schur
        method = "louis-blockdiag"
        cov_free = None
    # Back to the reported scale: a = a_z / sd, d_k = d_zk - s_k * a_z * mean / sd.
    m = s.D.shape[1]
    se = {c: np.full(J, np.nan) for c in ["se_a", *[f"se_d{k}" for k in range(1, m + 1)], "se_d", "se_b"]}
    for j in fidx:
        K = ncat[j]
        T = np.eye(K)
        T[0, 0] = 1.0 / s.sd
        T[1:, 0] = -score_k[j, : K - 1] * s.mean / s.sd
        C = T @ item_cov[j] @ T.T
        v = np.diag(C)
        se["se_a"][j] = _root(v[0])
        for k in range(1, K):
            se[f"se_d{k}"][j] = _root(v[k])
        if K == 2:
            se["se_d"][j] = _root(v[1])
            a_, d_ = s.a[j], s.D[j, 0]
            g = np.array([d_ / a_**2, -1.0 / a_])  # gradient of b = -d / a in (a, d)
            se["se_b"][j] = _root(float(g @ C @ g))
    cov_df = None
    if cov_free is not None:
        cov_df = pd.DataFrame(cov_free, index=labels, columns=labels)
    return se, method, cov_df


def _louis_by_pairs(data, logtab, logw, dlog, bounds, code_slot, code_npar, n_raw):
    """``sum_p Cov_p(s)`` (raw x raw) from :func:`.polykernels.louis_pairs`."""
    nch = bounds.shape[0] - 1
    n_rows, n_q, kmax = dlog.shape
    pairs = np.zeros((nch, n_rows, n_rows, n_q))
    means = np.zeros((nch, n_raw, n_raw))
    with numba.parallel_chunksize(1):
        polykernels.louis_pairs(
            data.offsets,
            data.codes,
            np.ascontiguousarray(logtab),
            np.ascontiguousarray(logw),
            np.ascontiguousarray(dlog),
            bounds,
            code_slot,
            code_npar,
            pairs,
            means,
        )
    N = pairs.sum(axis=0)
    N = N + N.transpose(1, 0, 2)
    idx = np.arange(n_rows)
    N[idx, idx] *= 0.5  # the same answer twice was counted once
    T = np.einsum("abq,aqm,bqn->ambn", N, dlog, dlog, optimize=True)
    raw = np.full((n_rows, kmax), -1, dtype=np.int64)
    for m in range(kmax):
        ok = (code_slot >= 0) & (m < code_npar)
        raw[ok, m] = code_slot[ok] + m
    ri = np.broadcast_to(raw[:, :, None, None], T.shape)
    ci = np.broadcast_to(raw[None, None, :, :], T.shape)
    ok = (ri >= 0) & (ci >= 0)
    first = np.zeros((n_raw, n_raw))
    np.add.at(first, (ri[ok], ci[ok]), T[ok])
    Mu = means.sum(axis=0)
    Mu = Mu + Mu.T - np.diag(np.diag(Mu))
    return first - Mu


def _root(v: float) -> float:
    """An SE from a variance; NaN where the information is not positive definite there
    (a weakly identified item), not a misleading 0."""
    return math.sqrt(v) if v > 0 else float("nan")


# --------------------------------------------------------------------------
# scoring


def score_mixed(
    responses: pd.DataFrame,
    items: pd.DataFrame,
    method: str = "eap",
    *,
    prior_mean: float | None = None,
    prior_sd: float | None = None,
    quadpts: int = 61,
    theta_lim: tuple[float, float] = (-6.0, 6.0),
    quadrature_rule: str = "rectangular",
    bound: float = 6.0,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> pd.DataFrame:
    """Scores as :func:`.scoring.score` for a mixed items table.  ML: persons whose
    every answer is in an item's top (bottom) category get ``theta = +bound``
    (``-bound``), ``se = NaN`` and flag ``"all_correct"`` (``"all_incorrect"``)."""
    t0 = time.perf_counter()
    method = str(method).lower()
    if method not in ("eap", "map", "ml"):
        raise ValueError(f"method must be one of ('eap', 'map', 'ml'), got {method!r}")
    p = poly_item_arrays(items)
    mu = float(items.attrs.get("theta_mean", 0.0)) if prior_mean is None else float(prior_mean)
    sd = float(items.attrs.get("theta_sd", 1.0)) if prior_sd is None else float(prior_sd)
    if not sd > 0:
        raise ValueError("prior_sd must be positive")
    data, _ = prepare(responses, item_ids=items.index, n_categories=p.ncat, sort_within_users=False)
    nu = data.n_users
    z, logw = quadrature(quadpts, quadrature_rule, theta_lim)
    nodes = mu + sd * z
    logtab = _log_table(nodes, p.kind, p.a, p.D, p.ncat)
    mean = np.empty(nu)
    post_sd = np.empty(nu)
    ll = np.empty(nu)
    ignored = np.empty(nu, dtype=np.int64)
    bounds = kernels.chunk_bounds(data.offsets, 16 * numba.get_num_threads())
    with numba.parallel_chunksize(1):
        kernels.eap(
            data.offsets,
            data.codes,
            logtab.astype(np.float32),
            logw.astype(np.float32),
            nodes,
            bounds,
            mean,
            post_sd,
            ll,
            ignored,
        )
    n_ans = np.diff(data.offsets)
    flag = np.full(nu, "", dtype=object)
    if method == "eap":
        theta, se = mean, post_sd
    else:
        prec = 0.0 if method == "ml" else 1.0 / sd**2
        theta = np.empty(nu)
        se = np.empty(nu)
        code_item = data.code_item
        with numba.parallel_chunksize(64):
            polykernels.newton_theta(
                data.offsets,
                data.codes,
                code_item,
                data.row_start,
                p.kind.astype(np.int64),
                p.ncat.astype(np.int64),
                p.a,
                np.nan_to_num(p.D, nan=0.0),
                mean,
                mu,
                prec,
                float(bound),
                max_iter,
                tol,
                theta,
                se,
            )
        if method == "ml":
            cat = data.codes - data.row_start[code_item[data.codes]]
            top = cat == p.ncat[code_item[data.codes]] - 1
            user = np.repeat(np.arange(nu), n_ans)
            n_top = np.bincount(user, weights=top, minlength=nu)
            n_bottom = np.bincount(user, weights=cat == 0, minlength=nu)
            perfect = n_top == n_ans
            zero = n_bottom == n_ans
            theta[perfect] = bound
            theta[zero] = -bound
            se[perfect | zero] = np.nan
            flag[perfect] = "all_correct"
            flag[zero] = "all_incorrect"
            flag[(np.abs(theta) >= bound - 1e-9) & ~(perfect | zero)] = "at_bound"
    out = pd.DataFrame({"user_id": data.user_ids.to_numpy(), "theta": theta, "se": se, "n": n_ans, "flag": flag})
    logger.info("scored %d users (%s, mixed items) in %.3f s", nu, method, time.perf_counter() - t0)
    return out


def steps_table(items: pd.DataFrame) -> pd.DataFrame:
    """b-form of a mixed items table: ``b1..`` (GPCM steps / GRM thresholds)."""
    p = poly_item_arrays(items)
    B = b_from_intercepts(p.kind, p.a, p.D)
    return pd.DataFrame(B, index=p.ids, columns=[f"b{k}" for k in range(1, B.shape[1] + 1)])
