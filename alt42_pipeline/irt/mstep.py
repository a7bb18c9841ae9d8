"""M-step of Bock-Aitkin EM: item parameters from expected count tables.

Given the expected number of correct answers ``r[j, q]`` and of answers
``n[j, q]`` of item ``j`` at node ``theta[q]`` (items x nodes, tiny), each item
maximises its expected complete-data log-likelihood

    sum_q  r log P + (n - r) log(1 - P)   (+ log prior)

with ``P = c + (1 - c) * logistic(a * theta + d)`` (:mod:`.model`).  The
parameters are ``(a, d)`` and, for the 3PL, ``g = logit(c)``.  Fisher scoring
(exact Newton for the 2PL) with step halving, vectorised over items; the common
slope of the 1PL is solved jointly with the intercepts through the
arrow-shaped Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from . import kernels
from .model import add_guessing, log_response, response

_EPS = 1e-12


@dataclass(frozen=True)
class Priors:
    """Optional priors (as in R mirt): lognormal on a, beta on c.

    ``a_lognormal = (meanlog, sdlog)`` puts ``log a ~ N(meanlog, sdlog^2)``;
    ``c_beta = (alpha, beta)`` puts ``c ~ Beta(alpha, beta)`` (density on c,
    c is estimated as logit(c)).  ``None`` disables a prior.
    """

    a_lognormal: tuple[float, float] | None = None
    c_beta: tuple[float, float] | None = None


def probabilities(theta, a, d, g=None):
    """P (items x nodes) and the logistic part L, which the derivatives need."""
    L = response(theta[None, :], a[:, None], d[:, None])
    if g is None:
        return L, L
    return add_guessing(L, expit(g)[:, None]), L


def log_tables(theta, a, d, c=None) -> np.ndarray:
    """Table ``(2 * n_items, n_nodes)``: row ``2j`` = log(1-P), ``2j+1`` = log P,
    so that a response code ``2j + x`` indexes its row (see :mod:`.data`)."""
    out = np.empty((2 * a.shape[0], theta.shape[0]))
    c = None if c is None else c[:, None]
    out[1::2], out[0::2] = log_response(theta[None, :], a[:, None], d[:, None], c)
    return out


def item_derivatives(theta, a, d, g=None):
    """P and dP/d(a, d[, g]) as arrays (items x nodes) and (items x nodes x m)."""
    P, L = probabilities(theta, a, d, g)
    if g is None:
        dl = L * (1.0 - L)
        dP = np.stack([dl * theta[None, :], dl], axis=-1)
    else:
        c = expit(g)[:, None]
        dl = (1.0 - c) * L * (1.0 - L)
        dP = np.stack([dl * theta[None, :], dl, c * (1.0 - c) * (1.0 - L)], axis=-1)
    return np.clip(P, _EPS, 1.0 - _EPS), dP


def _objective(r, n, theta, a, d, g, priors):
    P, _ = probabilities(theta, a, d, g)
    P = np.clip(P, _EPS, 1.0 - _EPS)
    f = (r * np.log(P) + (n - r) * np.log1p(-P)).sum(axis=1)
    return f + _log_prior(a, g, priors)


def _log_prior(a, g, priors):
    out = np.zeros(a.shape[0])
    if priors.a_lognormal is not None:
        mu, sd = priors.a_lognormal
        with np.errstate(invalid="ignore", divide="ignore"):
            la = np.log(a)
            out += np.where(a > 0, -la - (la - mu) ** 2 / (2 * sd * sd), -np.inf)
    if priors.c_beta is not None and g is not None:
        al, be = priors.c_beta
        c = np.clip(expit(g), _EPS, 1 - _EPS)
        out += (al - 1) * np.log(c) + (be - 1) * np.log1p(-c)
    return out


def gradient_information(r, n, theta, a, d, g, priors):
    """Per-item gradient (items x m) and Fisher information (items x m x m)
    of the expected complete-data log-posterior."""
    P, dP = item_derivatives(theta, a, d, g)
    v = P * (1.0 - P)
    resid = (r - n * P) / v
    grad = np.einsum("jq,jqm->jm", resid, dP)
    info = np.einsum("jq,jqm,jqk->jmk", n / v, dP, dP)
    if priors.a_lognormal is not None:
        mu, sd = priors.a_lognormal
        aa = np.maximum(a, _EPS)
        la = np.log(aa)
        grad[:, 0] += -1.0 / aa - (la - mu) / (sd * sd * aa)
        hess = 1.0 / aa**2 - (1.0 - (la - mu)) / (sd * sd * aa**2)
        info[:, 0, 0] += np.maximum(-hess, 0.0)
    if priors.c_beta is not None and g is not None:
        al, be = priors.c_beta
        c = expit(g)
        grad[:, 2] += (al - 1) * (1 - c) - (be - 1) * c
        info[:, 2, 2] += max(al + be - 2, 0.0) * c * (1 - c)
    return grad, info


def _unpack(x, has_c):
    return x[:, 0], x[:, 1], (x[:, 2] if has_c else None)


def mstep_items(r, n, theta, a, d, g, free, free_cols, priors, max_iter=200, tol=1e-8):
    """Maximise each free item's expected log-posterior (compiled, parallel
    over items; see :func:`kernels.mstep_items`).

    Each item iterates to ``tol`` (``max_iter`` is a safeguard): a 3PL item with a flat
    likelihood in ``c`` converges slowly under Fisher scoring, and an M-step cut short
    makes the EM map rough enough to cycle instead of converging.

    ``free`` masks the items to update, ``free_cols`` the parameter columns
    (0 = a, 1 = d, 2 = logit c) that are estimated; others stay as given.
    Returns new ``(a, d, g)``.
    """
    has_c = g is not None
    x = np.column_stack([a, d, g if has_c else np.zeros_like(a)]).astype(np.float64)
    ap = priors.a_lognormal
    cp = priors.c_beta
    kernels.mstep_items(
        np.ascontiguousarray(r),
        np.ascontiguousarray(n),
        theta,
        x,
        np.flatnonzero(free).astype(np.int64),
        np.asarray(free_cols, dtype=np.int64),
        bool(has_c),
        ap is not None,
        *(float(v) for v in (ap if ap is not None else (0.0, 1.0))),
        cp is not None,
        *(float(v) for v in (cp if cp is not None else (1.0, 1.0))),
        int(max_iter),
        float(tol),
    )
    return x[:, 0].copy(), x[:, 1].copy(), (x[:, 2].copy() if has_c else None)


def mstep_items_numpy(r, n, theta, a, d, g, free, free_cols, priors, max_iter=25, tol=1e-8):
    """Reference implementation of :func:`mstep_items` vectorised in numpy.

    ``free`` masks the items to update, ``free_cols`` the parameter columns
    (0 = a, 1 = d, 2 = logit c) that are estimated; others stay as given.
    Returns new ``(a, d, g)``.
    """
    has_c = g is not None
    x = np.column_stack([a, d] + ([g] if has_c else [])).astype(np.float64)
    idx = np.flatnonzero(free)
    if idx.size == 0:
        return a.copy(), d.copy(), (g.copy() if has_c else None)
    cols = np.asarray(free_cols)
    rr, nn = r[idx], n[idx]
    xs = x[idx]
    f = _objective(rr, nn, theta, *_unpack(xs, has_c), priors)
    active = np.ones(idx.size, dtype=bool)
    for _ in range(max_iter):
        ai = np.flatnonzero(active)
        if ai.size == 0:
            break
        grad, info = gradient_information(rr[ai], nn[ai], theta, *_unpack(xs[ai], has_c), priors)
        gsub = grad[:, cols]
        isub = info[:, cols][:, :, cols]
        isub = isub + 1e-10 * np.eye(cols.size)[None]
        try:
            step = np.linalg.solve(isub, gsub[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = gsub / np.maximum(np.diagonal(isub, axis1=1, axis2=2), 1e-8)
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, 2.0 / np.maximum(big, 1e-300))[:, None]
        f_old = f[ai]
        scale = np.ones(ai.size)
        pending = np.ones(ai.size, dtype=bool)
        new = xs[ai].copy()
        for _halve in range(30):
            pi = np.flatnonzero(pending)
            if pi.size == 0:
                break
            cand = xs[ai[pi]].copy()
            cand[:, cols] += scale[pi, None] * step[pi]
            fc = _objective(rr[ai[pi]], nn[ai[pi]], theta, *_unpack(cand, has_c), priors)
            ok = np.isfinite(fc) & (fc >= f_old[pi] - 1e-10 * np.maximum(1.0, np.abs(f_old[pi])))
            new[pi[ok]] = cand[ok]
            f[ai[pi[ok]]] = fc[ok]
            pending[pi[ok]] = False
            scale[pi[~ok]] *= 0.5
        moved = np.abs(new - xs[ai]).max(axis=1)
        xs[ai] = new
        active[ai[(moved < tol) | pending]] = False
    x[idx] = xs
    return x[:, 0].copy(), x[:, 1].copy(), (x[:, 2].copy() if has_c else None)


def mstep_common_slope(r, n, theta, a, d, free, priors, max_iter=25, tol=1e-8):
    """1PL: one slope shared by the free items, an intercept per free item.

    Newton on ``(a, d_1..d_J)`` using the arrow structure of the information
    (the slope couples with every intercept, intercepts do not couple).
    Returns new ``(a, d)``; only free items change.
    """
    idx = np.flatnonzero(free)
    a = a.copy()
    d = d.copy()
    if idx.size == 0:
        return a, d
    rr, nn = r[idx], n[idx]
    aa = float(a[idx[0]])
    dd = d[idx].copy()

    def total(aval, dvals):
        return (
            _objective(rr, nn, theta, np.full(idx.size, aval), dvals, None, priors).sum()
            - (idx.size - 1) * _log_prior(np.array([aval]), None, priors)[0]
        )

    f = total(aa, dd)
    for _ in range(max_iter):
        grad, info = gradient_information(rr, nn, theta, np.full(idx.size, aa), dd, None, Priors())
        g_a = grad[:, 0].sum()
        i_aa = info[:, 0, 0].sum()
        if priors.a_lognormal is not None:
            pg, pi = gradient_information(
                np.zeros((1, theta.size)), np.zeros((1, theta.size)), theta, np.array([aa]), np.zeros(1), None, priors
            )
            g_a += pg[0, 0]
            i_aa += pi[0, 0, 0]
        i_ad = info[:, 0, 1]
        i_dd = np.maximum(info[:, 1, 1], 1e-12)
        g_d = grad[:, 1]
        schur = i_aa - np.sum(i_ad * i_ad / i_dd)
        da = (g_a - np.sum(i_ad * g_d / i_dd)) / max(schur, 1e-12)
        ddelta = (g_d - i_ad * da) / i_dd
        big = max(abs(da), np.abs(ddelta).max())
        scale = min(1.0, 2.0 / big) if big > 0 else 1.0
        for _h in range(30):
            a_new = aa + scale * da
            d_new = dd + scale * ddelta
            f_new = total(a_new, d_new)
            if np.isfinite(f_new) and f_new >= f - 1e-10 * max(1.0, abs(f)):
                break
            scale *= 0.5
        else:
            break
        moved = max(abs(a_new - aa), np.abs(d_new - dd).max())
        aa, dd, f = a_new, d_new, f_new
        if moved < tol:
            break
    a[idx] = aa
    d[idx] = dd
    return a, d


def mstep_latent(node_tot, theta, free_mean: bool, free_sd: bool, mean: float, sd: float):
    """Normal latent distribution from the posterior mass at the nodes."""
    w = node_tot / node_tot.sum()
    new_mean = float(w @ theta) if free_mean else mean
    new_sd = float(np.sqrt(w @ (theta - new_mean) ** 2)) if free_sd else sd
    return new_mean, new_sd
