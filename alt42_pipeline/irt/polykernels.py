"""Compiled kernels of the polytomous/mixed engine (see :mod:`.poly`).

Responses are coded as in :mod:`.data` but with one table row per item *category*:
``code = row_start[item] + category``, so the E-step and EAP kernels of :mod:`.kernels`
(which only index ``logtab[code]``) serve both layouts.  Here are the kernels that need
the item and category behind a code: Newton scoring (MAP/ML) and the Louis term.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import njit, prange


@njit(cache=True, fastmath=True)
def _theta_objective(lo, hi, codes, code_item, row_start, kind, ncat, a, D, theta, prior_mean, prior_prec):
    """Log-likelihood (+ log normal prior) of one person at theta, its derivative and
    the Fisher information, for adjacent-category (2PL/GPCM/PCM) and graded items."""
    f = -0.5 * prior_prec * (theta - prior_mean) ** 2
    g = -prior_prec * (theta - prior_mean)
    info = prior_prec
    for k in range(lo, hi):
        code = codes[k]
        j = code_item[code]
        x = code - row_start[j]
        K = ncat[j]
        aj = a[j]
        if kind[j] == 0:
            zmax = 0.0
            for m in range(1, K):
                z = aj * m * theta + D[j, m - 1]
                if z > zmax:
                    zmax = z
            s = 0.0
            s1 = 0.0
            s2 = 0.0
            for m in range(K):
                z = aj * m * theta + (D[j, m - 1] if m > 0 else 0.0)
                e = math.exp(z - zmax)
                s += e
                s1 += m * e
                s2 += m * m * e
            zx = aj * x * theta + (D[j, x - 1] if x > 0 else 0.0)
            f += zx - zmax - math.log(s)
            mean = s1 / s
            g += aj * (x - mean)
            info += aj * aj * max(s2 / s - mean * mean, 0.0)
        else:
            # P(X >= m) for m = x and x + 1, and the Fisher information over categories.
            prev_star = 1.0
            prev_w = 0.0
            for m in range(1, K + 1):
                if m < K:
                    st = 1.0 / (1.0 + math.exp(-(aj * theta + D[j, m - 1])))
                else:
                    st = 0.0
                w = aj * st * (1.0 - st)
                p = max(prev_star - st, 1e-300)
                dp = prev_w - w
                info += dp * dp / p
                if m - 1 == x:
                    f += math.log(p)
                    g += dp / p
                prev_star = st
                prev_w = w
    return f, g, info


@njit(parallel=True, cache=True)
def newton_theta(
    offsets,
    codes,
    code_item,
    row_start,
    kind,
    ncat,
    a,
    D,
    start,
    prior_mean,
    prior_prec,
    bound,
    max_iter,
    tol,
    out_theta,
    out_se,
):
    """MAP (``prior_prec > 0``) or ML ability per person by Fisher scoring with step
    halving, within ``[-bound, bound]``; SE ``1 / sqrt(information)`` at the estimate."""
    n_users = offsets.shape[0] - 1
    for p in prange(n_users):
        lo = offsets[p]
        hi = offsets[p + 1]
        th = min(max(start[p], -bound), bound)
        f, g, info = _theta_objective(lo, hi, codes, code_item, row_start, kind, ncat, a, D, th, prior_mean, prior_prec)
        for _it in range(max_iter):
            step = g / info if info > 0 else 0.0
            step = min(max(step, -1.0), 1.0)
            accepted = False
            cand = th
            f2, g2, info2 = f, g, info
            for _ in range(30):
                cand = min(max(th + step, -bound), bound)
                f2, g2, info2 = _theta_objective(
                    lo, hi, codes, code_item, row_start, kind, ncat, a, D, cand, prior_mean, prior_prec
                )
                if f2 >= f - 1e-12:
                    accepted = True
                    break
                step *= 0.5
            if not accepted:
                break
            moved = abs(cand - th)
            th, f, g, info = cand, f2, g2, info2
            if moved < tol:
                break
        out_theta[p] = th
        out_se[p] = 1.0 / math.sqrt(info) if info > 0 else np.inf


@njit(parallel=True, fastmath=True, cache=True)
def louis_accumulate(offsets, codes, logtab, logprior, dlog, bounds, code_slot, code_npar, out, diag_only):
    """Posterior covariance of the complete-data scores, summed over persons.

    As :func:`.kernels.louis_accumulate`, with the first raw parameter of a code's item
    in ``code_slot[code]`` (-1 for fixed items) and its number of parameters in
    ``code_npar[code]``; ``dlog[code, q, m]`` is ``d log P(code | theta_q) / d par_m``.
    ``out[chunk]`` is dense (raw x raw, lower triangle) or, with ``diag_only``, the
    within-item blocks (raw x most parameters)."""
    n_chunks = bounds.shape[0] - 1
    n_q = logtab.shape[1]
    kmax = dlog.shape[2]
    for c in prange(n_chunks):
        buf = out[c]
        ll = np.empty(n_q)
        w = np.empty(n_q)
        sw = np.empty(n_q)
        max_k = 0
        for p in range(bounds[c], bounds[c + 1]):
            if offsets[p + 1] - offsets[p] > max_k:
                max_k = offsets[p + 1] - offsets[p]
        G = np.empty((max_k * kmax, n_q))
        rows = np.empty(max_k * kmax, dtype=np.int64)
        starts = np.empty(max_k + 1, dtype=np.int64)
        for p in range(bounds[c], bounds[c + 1]):
            lo = offsets[p]
            hi = offsets[p + 1]
            for q in range(n_q):
                ll[q] = logprior[q]
            for k in range(lo, hi):
                row = logtab[codes[k]]
                for q in range(n_q):
                    ll[q] += row[q]
            mx = ll[0]
            for q in range(1, n_q):
                if ll[q] > mx:
                    mx = ll[q]
            s = 0.0
            for q in range(n_q):
                w[q] = math.exp(ll[q] - mx)
                s += w[q]
            for q in range(n_q):
                w[q] /= s
                sw[q] = math.sqrt(w[q])
            r = 0
            nb = 0
            for k in range(lo, hi):
                code = codes[k]
                base = code_slot[code]
                if base < 0:
                    continue
                starts[nb] = r
                nb += 1
                for mm in range(code_npar[code]):
                    mu = 0.0
                    for q in range(n_q):
                        mu += w[q] * dlog[code, q, mm]
                    for q in range(n_q):
                        G[r, q] = (dlog[code, q, mm] - mu) * sw[q]
                    rows[r] = base + mm
                    r += 1
            starts[nb] = r
            if diag_only:
                for b in range(nb):
                    i0 = starts[b]
                    i1 = starts[b + 1]
                    for i in range(i0, i1):
                        for jj in range(i0, i1):
                            acc = 0.0
                            for q in range(n_q):
                                acc += G[i, q] * G[jj, q]
                            buf[rows[i], jj - i0] += acc
            else:
                for i in range(r):
                    for jj in range(i + 1):
                        acc = 0.0
                        for q in range(n_q):
                            acc += G[i, q] * G[jj, q]
                        buf[rows[i], rows[jj]] += acc


@njit(parallel=True, fastmath=True, cache=True)
def louis_pairs(offsets, codes, logtab, logprior, dlog, bounds, code_slot, code_npar, pairs, means):
    """The dense Louis term by pairs of answers instead of pairs of parameters.

    ``sum_p Cov_p(s) = sum_p E_p[s s'] - sum_p mu_p mu_p'``.  The first sum only depends on
    which two answers (codes) a person gave: ``pairs[chunk, c, c', q]`` receives the
    posterior weight of node ``q`` summed over the persons who gave answers ``c <= c'``
    (``c == c'``: the same answer, once), so the caller forms it from the item-category
    scores ``dlog`` in one contraction.  ``means[chunk]`` receives the lower triangle of
    ``sum_p mu_p mu_p'`` (raw parameters, slots as in :func:`louis_accumulate`).  Per
    person this costs (answers^2 / 2) x nodes additions, not (parameters^2 / 2) x nodes
    multiply-adds."""
    n_chunks = bounds.shape[0] - 1
    n_q = logtab.shape[1]
    kmax = dlog.shape[2]
    for c in prange(n_chunks):
        buf = pairs[c]
        mbuf = means[c]
        ll = np.empty(n_q)
        w = np.empty(n_q)
        max_k = 0
        for p in range(bounds[c], bounds[c + 1]):
            if offsets[p + 1] - offsets[p] > max_k:
                max_k = offsets[p + 1] - offsets[p]
        cl = np.empty(max_k, dtype=np.int64)
        mu = np.empty(max_k * kmax)
        rows = np.empty(max_k * kmax, dtype=np.int64)
        for p in range(bounds[c], bounds[c + 1]):
            lo = offsets[p]
            hi = offsets[p + 1]
            for q in range(n_q):
                ll[q] = logprior[q]
            for k in range(lo, hi):
                row = logtab[codes[k]]
                for q in range(n_q):
                    ll[q] += row[q]
            mx = ll[0]
            for q in range(1, n_q):
                if ll[q] > mx:
                    mx = ll[q]
            s = 0.0
            for q in range(n_q):
                w[q] = math.exp(ll[q] - mx)
                s += w[q]
            for q in range(n_q):
                w[q] /= s
            nb = 0
            for k in range(lo, hi):
                if code_slot[codes[k]] >= 0:
                    cl[nb] = codes[k]
                    nb += 1
            for i in range(nb):
                ci = cl[i]
                for i2 in range(i, nb):
                    c2 = cl[i2]
                    a, b = (ci, c2) if ci <= c2 else (c2, ci)
                    dst = buf[a, b]
                    for q in range(n_q):
                        dst[q] += w[q]
            r = 0
            for i in range(nb):
                code = cl[i]
                base = code_slot[code]
                for mm in range(code_npar[code]):
                    acc = 0.0
                    for q in range(n_q):
                        acc += w[q] * dlog[code, q, mm]
                    mu[r] = acc
                    rows[r] = base + mm
                    r += 1
            for i in range(r):
                for jj in range(i + 1):
                    mbuf[rows[i], rows[jj]] += mu[i] * mu[jj]
