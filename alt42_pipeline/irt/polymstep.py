"""M-step of the mixed-format engine: item parameters from expected category counts.

Item ``j`` with ``K`` categories has parameters ``p = (a, d_1..d_{K-1})`` and maximises

    sum_q sum_k R[j, k, q] log P_k(theta_q; p)     (+ log priors)

given the expected counts ``R`` (items x categories x nodes, tiny).  Items of one model
kind and number of categories are updated together, vectorised: Newton for the
adjacent-category items (the Hessian is minus ``n`` times the covariance of the
features, exact), Fisher scoring for graded items, both with step halving.  The common
PCM slope is a conditional step after the intercepts (ECM: each step raises the
expected log-posterior, so EM's monotonicity holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .polymodel import GRADED, log_category_probs

_EPS = 1e-300


@dataclass(frozen=True)
class PolyPriors:
    """``a_lognormal = (meanlog, sdlog)`` on slopes; ``d_normal = (mean, sd)`` on every
    intercept.  ``None`` for none."""

    a_lognormal: tuple[float, float] | None = None
    d_normal: tuple[float, float] | None = None


def _log_prior(p, priors):
    out = np.zeros(p.shape[0])
    if priors.a_lognormal is not None:
        mu, sd = priors.a_lognormal
        a = p[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            la = np.log(a)
            out += np.where(a > 0, -la - (la - mu) ** 2 / (2 * sd * sd), -np.inf)
    if priors.d_normal is not None:
        mu, sd = priors.d_normal
        out += (-((p[:, 1:] - mu) ** 2) / (2 * sd * sd)).sum(axis=1)
    return out


def _prior_grad_info(p, priors, grad, info):
    if priors.a_lognormal is not None:
        mu, sd = priors.a_lognormal
        a = np.maximum(p[:, 0], 1e-12)
        la = np.log(a)
        grad[:, 0] += -1.0 / a - (la - mu) / (sd * sd * a)
        hess = 1.0 / a**2 - (1.0 - (la - mu)) / (sd * sd * a**2)
        info[:, 0, 0] += np.maximum(-hess, 0.0)
    if priors.d_normal is not None:
        mu, sd = priors.d_normal
        grad[:, 1:] += -(p[:, 1:] - mu) / (sd * sd)
        idx = np.arange(1, p.shape[1])
        info[:, idx, idx] += 1.0 / (sd * sd)


def objective(kind, R, theta, p, priors):
    """Expected complete-data log-posterior per item (``-inf`` for disordered GRM
    intercepts or non-positive slopes under a lognormal prior)."""
    K = p.shape[1]
    ncat = np.full(p.shape[0], K)
    kinds = np.full(p.shape[0], kind)
    with np.errstate(invalid="ignore"):
        logP = log_category_probs(theta, kinds, p[:, 0], p[:, 1:], ncat)
        f = np.where(R > 0, R * logP, 0.0).sum(axis=(1, 2))
    if kind == GRADED and K > 2:
        f = np.where((np.diff(p[:, 1:], axis=1) < 0).all(axis=1), f, -np.inf)
    return f + _log_prior(p, priors)


def gradient_information(kind, R, theta, p, priors):
    """Gradient (items x K) and Fisher information (items x K x K) of
    :func:`objective` in ``p = (a, d_1..d_{K-1})``."""
    g, K, Q = R.shape
    kinds = np.full(g, kind)
    P = np.exp(log_category_probs(theta, kinds, p[:, 0], p[:, 1:], np.full(g, K)))
    n = R.sum(axis=1)  # (g, Q)
    if kind == GRADED:
        dP = graded_dP(theta, p)  # (g, K, Q, K)
        Ps = np.maximum(P, _EPS)
        grad = np.einsum("jkq,jkqm->jm", R / Ps, dP)
        info = np.einsum("jq,jkqm,jkqn->jmn", n, dP / Ps[..., None], dP)
    else:
        k = np.arange(K, dtype=float)
        resid = R - n[:, None, :] * P  # (g, K, Q)
        grad = np.empty((g, K))
        grad[:, 0] = np.einsum("jkq,k,q->j", resid, k, theta)
        grad[:, 1:] = resid[:, 1:].sum(axis=2)
        Ek = np.einsum("jkq,k->jq", P, k)
        Vk = np.einsum("jkq,k->jq", P, k * k) - Ek**2
        info = np.empty((g, K, K))
        info[:, 0, 0] = np.einsum("jq,jq,q->j", n, Vk, theta**2)
        c0 = P[:, 1:] * (k[None, 1:, None] - Ek[:, None, :])  # (g, K-1, Q)
        info[:, 0, 1:] = np.einsum("jq,jmq,q->jm", n, c0, theta)
        info[:, 1:, 0] = info[:, 0, 1:]
        info[:, 1:, 1:] = np.einsum("jq,jmq,mn->jmn", n, P[:, 1:], np.eye(K - 1)) - np.einsum(
            "jq,jmq,jnq->jmn", n, P[:, 1:], P[:, 1:]
        )
    _prior_grad_info(p, priors, grad, info)
    return grad, info


def graded_dP(theta, p):
    """``dP_k / dp_m`` of graded items (items x K x nodes x K)."""
    g, K = p.shape
    a, D = p[:, 0], p[:, 1:]
    star = 1.0 / (1.0 + np.exp(-(a[:, None, None] * theta[None, None, :] + D[:, :, None])))  # (g, K-1, Q)
    W = np.zeros((g, K + 1, theta.size))
    W[:, 1:K] = star * (1.0 - star)
    dP = np.zeros((g, K, theta.size, K))
    dP[..., 0] = theta[None, None, :] * (W[:, :K] - W[:, 1:])
    for m in range(1, K):
        dP[:, m, :, m] = W[:, m]
        dP[:, m - 1, :, m] = -W[:, m]
    return dP


def dlog_probs(kind, theta, p):
    """``d log P_k / dp_m`` (items x K x nodes x K) for the Louis term."""
    g, K = p.shape
    P = np.exp(log_category_probs(theta, np.full(g, kind), p[:, 0], p[:, 1:], np.full(g, K)))
    if kind == GRADED:
        return graded_dP(theta, p) / np.maximum(P, _EPS)[..., None]
    k = np.arange(K, dtype=float)
    Ek = np.einsum("jkq,k->jq", P, k)
    out = np.zeros((g, K, theta.size, K))
    out[..., 0] = theta[None, None, :] * (k[None, :, None] - Ek[:, None, :])
    for m in range(1, K):
        out[..., m] = -P[:, m][:, None, :]
        out[:, m, :, m] += 1.0
    return out


def newton(kind, R, theta, p, cols, priors, max_iter=25, tol=1e-8):
    """Maximise :func:`objective` over the columns ``cols`` of ``p`` (items x K),
    per item, with step halving.  Returns the new ``p``."""
    p = p.copy()
    cols = np.asarray(cols)
    f = objective(kind, R, theta, p, priors)
    active = np.ones(p.shape[0], dtype=bool)
    eye = 1e-10 * np.eye(cols.size)[None]
    for _ in range(max_iter):
        ai = np.flatnonzero(active)
        if ai.size == 0:
            break
        grad, info = gradient_information(kind, R[ai], theta, p[ai], priors)
        gs = grad[:, cols]
        isub = info[:, cols][:, :, cols] + eye
        try:
            step = np.linalg.solve(isub, gs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = gs / np.maximum(np.diagonal(isub, axis1=1, axis2=2), 1e-8)
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, 2.0 / np.maximum(big, 1e-300))[:, None]
        scale = np.ones(ai.size)
        pending = np.ones(ai.size, dtype=bool)
        new = p[ai].copy()
        for _h in range(30):
            pi = np.flatnonzero(pending)
            if pi.size == 0:
                break
            cand = p[ai[pi]].copy()
            cand[:, cols] += scale[pi, None] * step[pi]
            fc = objective(kind, R[ai[pi]], theta, cand, priors)
            fo = f[ai[pi]]
            ok = np.isfinite(fc) & (fc >= fo - 1e-10 * np.maximum(1.0, np.abs(fo)))
            new[pi[ok]] = cand[ok]
            f[ai[pi[ok]]] = fc[ok]
            pending[pi[ok]] = False
            scale[pi[~ok]] *= 0.5
        moved = np.abs(new - p[ai]).max(axis=1)
        p[ai] = new
        active[ai[(moved < tol) | pending]] = False
    return p


def common_slope(groups, theta, priors, max_iter=25, tol=1e-8):
    """One slope shared by the items of ``groups`` (a list of ``(kind, R, p)``), with
    their intercepts held: 1-D Newton with step halving.  Returns the new slope."""
    a = float(groups[0][2][0, 0])

    def total(aval):
        s = 0.0
        for kind, R, p in groups:
            q = p.copy()
            q[:, 0] = aval
            s += objective(kind, R, theta, q, _no_prior(priors)).sum()
        if priors.a_lognormal is not None:
            s += _log_prior(np.array([[aval]]), PolyPriors(a_lognormal=priors.a_lognormal))[0]
        return s

    f = total(a)
    for _ in range(max_iter):
        ga = ia = 0.0
        for kind, R, p in groups:
            q = p.copy()
            q[:, 0] = a
            gr, inf = gradient_information(kind, R, theta, q, _no_prior(priors))
            ga += gr[:, 0].sum()
            ia += inf[:, 0, 0].sum()
        if priors.a_lognormal is not None:
            gp = np.zeros((1, 1))
            ip = np.zeros((1, 1, 1))
            _prior_grad_info(np.array([[a]]), PolyPriors(a_lognormal=priors.a_lognormal), gp, ip)
            ga += gp[0, 0]
            ia += ip[0, 0, 0]
        step = ga / max(ia, 1e-12)
        step = max(min(step, 2.0), -2.0)
        for _h in range(30):
            fn = total(a + step)
            if np.isfinite(fn) and fn >= f - 1e-10 * max(1.0, abs(f)):
                break
            step *= 0.5
        else:
            break
        a, f = a + step, fn
        if abs(step) < tol:
            break
    return a


def _no_prior(priors):
    return PolyPriors(d_normal=priors.d_normal)
