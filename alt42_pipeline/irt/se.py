"""Standard errors of item parameters from the observed information.

Method (``se_method = "louis"``): the observed information of the marginal
log-likelihood at the estimate is computed exactly by Louis' (1982) formula,

    I_obs = E[-d2 l_c | x]  -  sum_p Cov[s_p | x_p],

where ``l_c`` is the complete-data log-likelihood (responses and theta) and
``s_p`` a person's complete-data score; expectations are over each person's
posterior on the quadrature grid.  This equals the Oakes (1999) identity used
by R mirt's ``SE.type = "Oakes"`` evaluated analytically instead of by
numerical differentiation.  The first term is taken from the expected-count
tables (differentiating the analytic M-step gradient numerically, which also
covers the priors); the second needs one pass over persons, accumulating the
posterior covariance of the scores of every pair of items a person answered.

When there are more than ``max_dense`` free parameters, only the within-item
blocks of the second term are accumulated (``se_method = "louis-blockdiag"``)
and each item's block is inverted alone; that ignores the covariance between
items' estimates and makes their SEs slightly too small. A parameter shared by all
items (the slope of the 1PL, the latent SD of the Rasch model) is not treated so: its
variance, ``1 / (i_aa - i_ad' I_dd^-1 i_ad)``, and its covariances with the intercepts are
computed from the full information, cross-item terms included, by conjugate gradients on
products with it, each one pass over the persons (:func:`.kernels.louis_matvec`); ignoring
the cross terms made it 36-43% too small.

Standard errors are conditional on the latent mean and SD when those are
estimated (anchored calibration); for the Rasch model without anchors the
latent SD is part of the information (fitted as the equivalent 1PL).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
from scipy.special import expit

from . import kernels
from . import mstep as ms
from .estep import GridEStep

MAX_DENSE = 4000


def _raw_gradient(r, n, z, x, has_c, priors):
    a, d = x[:, 0], x[:, 1]
    g = x[:, 2] if has_c else None
    grad, _ = ms.gradient_information(r, n, z, a, d, g, priors)
    return grad


def item_standard_errors(data, layout, a, d, g, mean, sd, grids, priors, items_index, max_dense: int | None = None):
    """``(se columns, method, covariance DataFrame or None)``; see module docstring. ``grids``
    are the persons' quadrature grids of the calibration (:func:`.estep.person_grids`)."""
    if max_dense is None:
        max_dense = MAX_DENSE
    has_c = layout.has_c
    free = layout.free
    J = data.n_items
    # Items on the N(0,1) scale of the quadrature (z), where the posterior lives.
    az = a * sd
    dz = d + a * mean
    c = expit(g) if has_c else None
    estep = GridEStep(grids)
    z = estep.z
    r, n, _, _, _ = estep.run(lambda th: ms.log_tables(th, az, dz, c), 0.0, 1.0)

    m = 3 if has_c else 2
    cols = [1] if layout.slope_fixed_one else list(range(m))
    k = len(cols)
    x = np.column_stack([az, dz] + ([g] if has_c else []))

    # Term 1: minus the Hessian of the expected complete-data log-posterior,
    # per item, by central differences of the analytic gradient.
    fidx = np.flatnonzero(free)
    H = np.zeros((fidx.size, k, k))
    for ci, col in enumerate(cols):
        h = 1e-5 * np.maximum(1.0, np.abs(x[fidx, col]))
        xp = x[fidx].copy()
        xm = x[fidx].copy()
        xp[:, col] += h
        xm[:, col] -= h
        gp = _raw_gradient(r[fidx], n[fidx], z, xp, has_c, priors)
        gm = _raw_gradient(r[fidx], n[fidx], z, xm, has_c, priors)
        H[:, :, ci] = ((gp - gm) / (2 * h[:, None]))[:, cols]
    A = -0.5 * (H + np.transpose(H, (0, 2, 1)))

    # Term 2: posterior covariance of complete-data scores, each person on their grid.
    slot = np.full(J, -1, dtype=np.int64)
    slot[fidx] = np.arange(fidx.size) * k
    n_raw = fidx.size * k
    dense = n_raw <= max_dense
    B = np.zeros((n_raw, n_raw) if dense else (n_raw, k))
    passes = []  # per grid what a product with the second term needs
    for grid in grids:
        gd = grid.data
        P, dP = ms.item_derivatives(grid.z, az, dz, g if has_c else None)
        dlog = np.empty((2 * J, grid.z.size, k))
        dlog[1::2] = dP[:, :, cols] / P[:, :, None]
        dlog[0::2] = -dP[:, :, cols] / (1.0 - P)[:, :, None]
        logtab = ms.log_tables(grid.z, az, dz, c)
        # one dense matrix per chunk: as many chunks as threads when dense
        bounds = kernels.chunk_bounds(gd.offsets, (1 if dense else 4) * numba.get_num_threads())
        nch = bounds.shape[0] - 1
        out = np.zeros((nch,) + B.shape)
        with numba.parallel_chunksize(1):
            kernels.louis_accumulate(
                gd.offsets, gd.codes, logtab, grid.logw, np.ascontiguousarray(dlog), bounds, k, slot, out, not dense
            )
        B += out.sum(axis=0)
        passes.append((gd, logtab, grid.logw, np.ascontiguousarray(dlog)))

    if dense:
        B = B + B.T - np.diag(np.diag(B))
        info = -B
        for i in range(fidx.size):
            info[i * k : (i + 1) * k, i * k : (i + 1) * k] += A[i]
        # Map raw item parameters to the free parameters.
        if layout.common_slope:
            M = np.zeros((n_raw, 1 + fidx.size))
            M[0::k, 0] = 1.0
            M[1::k, 1:] = np.eye(fidx.size)
            info = M.T @ info @ M
        cov = _inverse(info)
        var_a, var_d, cov_ad, var_g = _item_moments_dense(cov, layout, fidx.size, k)
    else:
        Bd = B.reshape(fidx.size, k, k)
        info_blocks = A - Bd
        if layout.common_slope:
            # The shared slope couples with every item: its variance and covariances with the
            # intercepts come from the full information (cross-item terms included), by
            # conjugate gradients on products with it (one pass over persons each).
            matvec = _information_product(A, passes, k, slot, n_raw)
            va, x = _shared_parameter_variance(matvec, info_blocks, fidx.size)
            var_a = np.full(fidx.size, va)
            cov_ad = -x * va
            var_d = 1.0 / info_blocks[:, 1, 1] + x**2 * va
            var_g = None
        else:
            covb = np.linalg.inv(info_blocks)
            if layout.slope_fixed_one:
                var_a, cov_ad, var_d = None, None, covb[:, 0, 0]
            else:
                var_a, var_d, cov_ad = covb[:, 0, 0], covb[:, 1, 1], covb[:, 0, 1]
            var_g = covb[:, 2, 2] if has_c else None
        cov = None

    # Back to the reported scale: a = a_z / sd, d = d_z - a_z * mean / sd.
    se = {name: np.full(J, np.nan) for name in ("se_a", "se_d", "se_b", "se_c")}
    af, df = a[fidx], d[fidx]
    if layout.model == "rasch" and layout.common_slope:
        # reported a = 1, d unchanged, b = -d; the common slope is the latent SD
        se["se_d"][fidx] = np.sqrt(var_d)
        se["se_b"][fidx] = np.sqrt(var_d)
        se["latent_sd"] = float(np.sqrt(var_a[0]))
    elif layout.slope_fixed_one:
        se["se_d"][fidx] = np.sqrt(var_d)
        se["se_b"][fidx] = np.sqrt(var_d) / np.abs(af)
    else:
        s, mu = sd, mean
        va = var_a / s**2
        vd = var_d + (mu / s) ** 2 * var_a - 2 * (mu / s) * cov_ad
        cad = cov_ad / s - mu / s**2 * var_a
        vb = (df / af**2) ** 2 * va + vd / af**2 - 2 * df / af**3 * cad
        se["se_a"][fidx] = np.sqrt(va)
        se["se_d"][fidx] = np.sqrt(vd)
        se["se_b"][fidx] = np.sqrt(np.maximum(vb, 0.0))
    if has_c:
        cc = expit(g[fidx])
        se["se_c"][fidx] = cc * (1 - cc) * np.sqrt(var_g)

    cov_df = None
    if dense:
        names = _free_labels(layout, items_index[fidx], k, cols)
        cov_df = pd.DataFrame(cov, index=names, columns=names)
    method = "louis" if dense else "louis-blockdiag"
    return se, method, cov_df


def _information_product(A, passes, k, slot, n_raw):
    """``v -> I v`` for the observed information ``I`` of the raw item parameters (items x
    ``k``, laid out by ``slot``): the block-diagonal first term ``A`` minus the second term,
    summed over the persons' grids by :func:`.kernels.louis_matvec`."""

    def product(v):
        out = np.einsum("imn,in->im", A, v.reshape(-1, k)).ravel()
        for gd, logtab, logw, dlog in passes:
            bounds = kernels.chunk_bounds(gd.offsets, numba.get_num_threads())
            buf = np.zeros((bounds.shape[0] - 1, n_raw))
            with numba.parallel_chunksize(1):
                kernels.louis_matvec(gd.offsets, gd.codes, logtab, logw, dlog, bounds, k, slot, v, buf)
            out -= buf.sum(axis=0)
        return out

    return product


def _shared_parameter_variance(matvec, info_blocks, n_free, tol=1e-10, max_iter=500):
    """Variance of the 1PL's shared slope and ``x = I_dd^-1 i_ad`` (so ``cov(a, d) = -x
    var(a)``), with the intercepts' information block ``I_dd`` solved by preconditioned
    conjugate gradients (diagonal preconditioner: the within-item blocks)."""
    k = 2
    e_a = np.zeros(n_free * k)
    e_a[0::k] = 1.0
    col = matvec(e_a)
    i_aa = float(col[0::k].sum())
    i_ad = col[1::k]
    diag = info_blocks[:, 1, 1]

    def dd(y):
        v = np.zeros(n_free * k)
        v[1::k] = y
        return matvec(v)[1::k]

    x = i_ad / diag
    r = i_ad - dd(x)
    z = r / diag
    p = z.copy()
    rz = float(r @ z)
    norm = float(np.linalg.norm(i_ad)) or 1.0
    for _ in range(max_iter):
        if np.linalg.norm(r) <= tol * norm:
            break
        ap = dd(p)
        alpha = rz / float(p @ ap)
        x += alpha * p
        r -= alpha * ap
        z = r / diag
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return 1.0 / (i_aa - float(i_ad @ x)), x


def _inverse(info):
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)


def _item_moments_dense(cov, layout, n_free, k):
    diag = np.diag(cov)
    if layout.common_slope:
        va = np.full(n_free, diag[0])
        vd = diag[1:]
        cad = cov[0, 1:]
        return va, vd, cad, None
    if layout.slope_fixed_one:
        return None, diag, None, None
    va = diag[0::k]
    vd = diag[1::k]
    cad = np.array([cov[i * k, i * k + 1] for i in range(n_free)])
    vg = diag[2::k] if k == 3 else None
    return va, vd, cad, vg


def _free_labels(layout, ids, k, cols):
    names = ["a", "d", "logit_c"]
    if layout.common_slope:
        first = "latent_sd" if layout.model == "rasch" else "a_common"
        return [first] + [f"d[{i}]" for i in ids]
    return [f"{names[c]}[{i}]" for i in ids for c in cols]
