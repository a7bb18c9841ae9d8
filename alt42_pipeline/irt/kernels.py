"""Compiled (numba) kernels over the CSR-by-person response layout.

All kernels take ``offsets``/``codes`` from :mod:`.data` and per-item tables
laid out as ``(2 * n_items, n_nodes)`` where row ``2 * j + x`` holds
``log P(X_j = x | theta_q)``; a response code indexes its row directly.

Parallelism is over persons.  The E-step accumulates expected counts into one
buffer per chunk of persons (no atomics), and the chunk buffers are summed
afterwards; chunks are cut at equal numbers of responses.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import njit, numba, prange


def chunk_bounds(offsets: np.ndarray, n_chunks: int | None = None) -> np.ndarray:
    """Person indices cutting the responses into chunks of equal size."""
    n_users = offsets.shape[0] - 1
    if n_chunks is None:
        n_chunks = 4 * numba.get_num_threads()
    n_chunks = max(1, min(n_chunks, n_users))
    targets = np.linspace(0, offsets[-1], n_chunks + 1)
    bounds = np.searchsorted(offsets, targets, side="left").astype(np.int64)
    bounds[0] = 0
    bounds[-1] = n_users
    return np.unique(bounds)


@njit(fastmath=True, cache=True, inline="always")
def _posterior_weights(codes, lo, hi, logtab, logprior, ll, w):
    """One person's unnormalised posterior over the nodes: ``w = exp(ll - m)`` where
    ``ll`` is the log prior plus the log-likelihood rows of the person's responses
    ``codes[lo:hi]``. Returns ``(m, s)`` with ``s = sum(w)``, so the marginal
    log-likelihood is ``m + log(s)`` and ``w / s`` the normalised posterior."""
    n_q = ll.shape[0]
    for q in range(n_q):
        ll[q] = logprior[q]
    for k in range(lo, hi):
        row = logtab[codes[k]]
        for q in range(n_q):
            ll[q] += row[q]
    m = ll[0]
    for q in range(1, n_q):
        if ll[q] > m:
            m = ll[q]
    s = 0.0
    for q in range(n_q):
        w[q] = math.exp(ll[q] - m)
        s += w[q]
    return m, s


@njit(parallel=True, fastmath=True, cache=True)
def estep(offsets, codes, logtab, logprior, bounds, acc, node_tot, chunk_ll):
    """E-step: expected counts per (item, answer, node) and the marginal loglik.

    ``acc[t, 2j+x, q]`` receives, in the buffer of thread ``t``, the posterior
    weight of node ``q`` summed over the persons that answered ``x`` to item
    ``j``; ``node_tot[t, q]`` the posterior weight summed over persons;
    ``chunk_ll[c]`` the marginal log-likelihood of chunk ``c``.  The caller
    zeroes ``acc``/``node_tot`` and sums them over threads.  Per-thread (not
    per-chunk) buffers keep the scattered updates in cache when items are
    many; chunks of persons can then be handed out dynamically.
    """
    n_chunks = bounds.shape[0] - 1
    n_q = logtab.shape[1]
    for c in prange(n_chunks):
        tid = numba.get_thread_id()
        buf = acc[tid]
        nt = node_tot[tid]
        ll = np.empty(n_q)
        w = np.empty(n_q)
        total = 0.0
        for p in range(bounds[c], bounds[c + 1]):
            lo = offsets[p]
            hi = offsets[p + 1]
            m, s = _posterior_weights(codes, lo, hi, logtab, logprior, ll, w)
            total += m + math.log(s)
            inv = 1.0 / s
            # the expected counts get the nodes from the first to the last holding more
            # than 1e-15 of the posterior mass (the rest changes them by less than that)
            q_lo = n_q
            q_hi = -1
            for q in range(n_q):
                w[q] *= inv
                nt[q] += w[q]
                if w[q] > 1e-15:
                    if q < q_lo:
                        q_lo = q
                    q_hi = q
            for k in range(lo, hi):
                dst = buf[codes[k]]
                for q in range(q_lo, q_hi + 1):
                    dst[q] += w[q]
        chunk_ll[c] = total


@njit(parallel=True, fastmath=True, cache=True)
def eap(offsets, codes, logtab, logprior, nodes, bounds, out_mean, out_sd, out_ll, out_right):
    """Posterior mean and SD over the quadrature nodes, marginal
    log-likelihood and number correct, per person (chunks of persons).
    ``logtab`` is float32 as in :func:`estep`; sums are float64."""
    n_q = logtab.shape[1]
    for c in prange(bounds.shape[0] - 1):
        ll = np.empty(n_q)
        w = np.empty(n_q)
        for p in range(bounds[c], bounds[c + 1]):
            m, s = _posterior_weights(codes, offsets[p], offsets[p + 1], logtab, logprior, ll, w)
            right = 0
            s1 = 0.0
            for k in range(offsets[p], offsets[p + 1]):
                right += codes[k] & 1
            for q in range(n_q):
                s1 += w[q] * nodes[q]
            mean = s1 / s
            s2 = 0.0
            for q in range(n_q):
                s2 += w[q] * (nodes[q] - mean) ** 2
            out_mean[p] = mean
            out_sd[p] = math.sqrt(s2 / s)
            out_ll[p] = m + math.log(s)
            out_right[p] = right


@njit(cache=True, fastmath=True)
def _theta_objective(lo, hi, codes, a, d, c, theta, prior_mean, prior_prec):
    """Log-likelihood (+ log normal prior) of one person at theta, its
    derivative and the Fisher information."""
    f = -0.5 * prior_prec * (theta - prior_mean) ** 2
    g = -prior_prec * (theta - prior_mean)
    info = prior_prec
    for k in range(lo, hi):
        j = codes[k] >> 1
        x = codes[k] & 1
        eta = a[j] * theta + d[j]
        lg = 1.0 / (1.0 + math.exp(-eta))
        cj = c[j]
        pr = cj + (1.0 - cj) * lg
        pr = min(max(pr, 1e-300), 1.0 - 1e-16)
        dp = (1.0 - cj) * lg * (1.0 - lg) * a[j]
        if x == 1:
            f += math.log(pr)
        else:
            f += math.log1p(-pr)
        g += (x - pr) * dp / (pr * (1.0 - pr))
        info += dp * dp / (pr * (1.0 - pr))
    return f, g, info


@njit(cache=True, fastmath=True)
def _theta_observed_information(lo, hi, codes, a, d, c, theta, prior_prec):
    """Minus the second derivative of the log-likelihood (+ log normal prior) of one person
    at theta: the observed information. With a lower asymptote it differs from the Fisher
    information by a residual term, ``-(x - P) d/dtheta[P' / (P (1 - P))]``; for the 2PL the
    two are equal."""
    obs = prior_prec
    for k in range(lo, hi):
        j = codes[k] >> 1
        x = codes[k] & 1
        eta = a[j] * theta + d[j]
        lg = 1.0 / (1.0 + math.exp(-eta))
        cj = c[j]
        pr = cj + (1.0 - cj) * lg
        pr = min(max(pr, 1e-300), 1.0 - 1e-16)
        v = pr * (1.0 - pr)
        dp = (1.0 - cj) * lg * (1.0 - lg) * a[j]
        d2p = dp * a[j] * (1.0 - 2.0 * lg)
        obs += dp * dp / v - (x - pr) * (d2p / v - dp * dp * (1.0 - 2.0 * pr) / (v * v))
    return obs


@njit(parallel=True, cache=True)
def newton_theta(
    offsets, codes, a, d, c, start, prior_mean, prior_prec, bound, max_iter, tol, out_theta, out_se, out_iter
):
    """MAP (``prior_prec > 0``) or ML (``prior_prec == 0``) ability per person
    by Fisher scoring with step halving, theta kept within ``[-bound, bound]``.
    SE is ``1 / sqrt(information)`` at the estimate, the observed information (minus the
    second derivative of the log-likelihood plus the prior precision); where that is not
    positive (a 3PL likelihood can bend the wrong way) the Fisher information."""
    n_users = offsets.shape[0] - 1
    for p in prange(n_users):
        lo = offsets[p]
        hi = offsets[p + 1]
        th = min(max(start[p], -bound), bound)
        f, g, info = _theta_objective(lo, hi, codes, a, d, c, th, prior_mean, prior_prec)
        it = 0
        while it < max_iter:
            it += 1
            step = g / info
            if step > 1.0:
                step = 1.0
            elif step < -1.0:
                step = -1.0
            accepted = False
            for _ in range(30):
                cand = min(max(th + step, -bound), bound)
                f2, g2, info2 = _theta_objective(lo, hi, codes, a, d, c, cand, prior_mean, prior_prec)
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
        # SE from the observed information at the estimate (the Fisher information, which
        # the steps use, where the observed one is not positive)
        obs = _theta_observed_information(lo, hi, codes, a, d, c, th, prior_prec)
        if obs > 0:
            info = obs
        out_se[p] = 1.0 / math.sqrt(info) if info > 0 else np.inf
        out_iter[p] = it


@njit(parallel=True, fastmath=True, cache=True)
def louis_accumulate(offsets, codes, logtab, logprior, dlog, bounds, n_par, slot, out, diag_only):
    """Per-person posterior covariance of the complete-data score, summed.

    For person p with posterior weights ``w_q`` and, per answered item j,
    complete-data score ``s_jq = dlog[code, q, :]``, adds
    ``sum_q w_q s_jq s_kq' - (sum_q w_q s_jq)(sum_q w_q s_kq)'`` to the block
    (slot[j], slot[k]) of ``out[chunk]`` for every pair of answered free items
    (only ``j == k`` when ``diag_only``; then ``out[chunk, slot[j] + m, m']``).
    """
    n_chunks = bounds.shape[0] - 1
    n_q = logtab.shape[1]
    for c in prange(n_chunks):
        buf = out[c]
        ll = np.empty(n_q)
        w = np.empty(n_q)
        max_k = 0
        for p in range(bounds[c], bounds[c + 1]):
            if offsets[p + 1] - offsets[p] > max_k:
                max_k = offsets[p + 1] - offsets[p]
        G = np.empty((max_k * n_par, n_q))
        rows = np.empty(max_k * n_par, dtype=np.int64)
        act = np.empty(n_q, dtype=np.int64)
        for p in range(bounds[c], bounds[c + 1]):
            lo = offsets[p]
            hi = offsets[p + 1]
            m, s = _posterior_weights(codes, lo, hi, logtab, logprior, ll, w)
            # Only the nodes holding posterior mass enter the products: a node below
            # 1e-15 of the mass changes a covariance by less than that relative amount, and
            # a posterior spans a dozen or two of the grid's nodes.
            n_act = 0
            for q in range(n_q):
                w[q] /= s
                if w[q] > 1e-15:
                    act[n_act] = q
                    n_act += 1
            # Centred, sqrt-weighted scores of the free items this person answered.
            r = 0
            for k in range(lo, hi):
                code = codes[k]
                base = slot[code >> 1]
                if base < 0:
                    continue
                for mm in range(n_par):
                    mu = 0.0
                    for t in range(n_act):
                        q = act[t]
                        mu += w[q] * dlog[code, q, mm]
                    for t in range(n_act):
                        q = act[t]
                        G[r, t] = (dlog[code, q, mm] - mu) * math.sqrt(w[q])
                    rows[r] = base + mm
                    r += 1
            if diag_only:
                for i0 in range(0, r, n_par):
                    for i in range(n_par):
                        for jj in range(n_par):
                            acc = 0.0
                            for t in range(n_act):
                                acc += G[i0 + i, t] * G[i0 + jj, t]
                            buf[rows[i0 + i], jj] += acc
            else:
                for i in range(r):
                    for jj in range(i + 1):
                        acc = 0.0
                        for t in range(n_act):
                            acc += G[i, t] * G[jj, t]
                        buf[rows[i], rows[jj]] += acc


@njit(cache=True)
def _item_state(r, n, theta, a, d, g, has_c, a_prior, a_mu, a_sd, c_prior, c_al, c_be, grad, info):
    """Expected complete-data log-posterior of one item, its gradient and
    Fisher information in (a, d, logit c); grad/info are filled in place."""
    for i in range(3):
        grad[i] = 0.0
        for k in range(3):
            info[i, k] = 0.0
    c = 1.0 / (1.0 + math.exp(-g)) if has_c else 0.0
    f = 0.0
    dp = np.empty(3)
    for q in range(theta.shape[0]):
        lg = 1.0 / (1.0 + math.exp(-(a * theta[q] + d)))
        p = c + (1.0 - c) * lg
        p = min(max(p, 1e-12), 1.0 - 1e-12)
        v = p * (1.0 - p)
        f += r[q] * math.log(p) + (n[q] - r[q]) * math.log1p(-p)
        dl = (1.0 - c) * lg * (1.0 - lg)
        dp[0] = dl * theta[q]
        dp[1] = dl
        dp[2] = c * (1.0 - c) * (1.0 - lg)
        res = (r[q] - n[q] * p) / v
        wn = n[q] / v
        for i in range(3):
            grad[i] += res * dp[i]
            for k in range(3):
                info[i, k] += wn * dp[i] * dp[k]
    if a_prior:
        if a <= 0.0:
            return -np.inf
        la = math.log(a)
        f += -la - (la - a_mu) ** 2 / (2.0 * a_sd * a_sd)
        grad[0] += -1.0 / a - (la - a_mu) / (a_sd * a_sd * a)
        h = 1.0 / (a * a) - (1.0 - (la - a_mu)) / (a_sd * a_sd * a * a)
        if h < 0.0:
            info[0, 0] -= h
    if c_prior and has_c:
        cc = min(max(c, 1e-12), 1.0 - 1e-12)
        f += (c_al - 1.0) * math.log(cc) + (c_be - 1.0) * math.log1p(-cc)
        grad[2] += (c_al - 1.0) * (1.0 - c) - (c_be - 1.0) * c
        info[2, 2] += max(c_al + c_be - 2.0, 0.0) * c * (1.0 - c)
    return f


@njit(cache=True)
def _solve_small(A, b, m):
    """Solve A x = b for a small system (Gaussian elimination, partial
    pivoting); A and b are overwritten, x is returned in b."""
    for col in range(m):
        piv = col
        for i in range(col + 1, m):
            if abs(A[i, col]) > abs(A[piv, col]):
                piv = i
        if piv != col:
            for k in range(m):
                A[col, k], A[piv, k] = A[piv, k], A[col, k]
            b[col], b[piv] = b[piv], b[col]
        if A[col, col] == 0.0:
            A[col, col] = 1e-300
        for i in range(col + 1, m):
            fct = A[i, col] / A[col, col]
            for k in range(col, m):
                A[i, k] -= fct * A[col, k]
            b[i] -= fct * b[col]
    for i in range(m - 1, -1, -1):
        acc = b[i]
        for k in range(i + 1, m):
            acc -= A[i, k] * b[k]
        b[i] = acc / A[i, i]


@njit(cache=True)
def mstep_items(r, n, theta, x, free_idx, cols, has_c, a_prior, a_mu, a_sd, c_prior, c_al, c_be, max_iter, tol):
    """Per-item Fisher scoring with step halving; ``x`` (items x 3: a, d,
    logit c) is updated in place for the items in ``free_idx`` and the
    parameter columns in ``cols``.  Serial: the tables are items x nodes,
    tiny next to the E-step, and a parallel version compiles much slower."""
    m = cols.shape[0]
    grad = np.empty(3)
    info = np.empty((3, 3))
    sub = np.empty((m, m))
    rhs = np.empty(m)
    cur = np.empty(3)
    cand = np.empty(3)
    for ii in range(free_idx.shape[0]):
        j = free_idx[ii]
        for i in range(3):
            cur[i] = x[j, i]
        f = _item_state(
            r[j], n[j], theta, cur[0], cur[1], cur[2], has_c, a_prior, a_mu, a_sd, c_prior, c_al, c_be, grad, info
        )
        for _it in range(max_iter):
            for i in range(m):
                rhs[i] = grad[cols[i]]
                for k in range(m):
                    sub[i, k] = info[cols[i], cols[k]]
                sub[i, i] += 1e-10
            _solve_small(sub, rhs, m)
            big = 0.0
            for i in range(m):
                big = max(big, abs(rhs[i]))
            scale = 1.0
            if big > 2.0:
                scale = 2.0 / big
            accepted = False
            f2 = f
            for _h in range(30):
                for i in range(3):
                    cand[i] = cur[i]
                for i in range(m):
                    cand[cols[i]] += scale * rhs[i]
                f2 = _item_state(
                    r[j],
                    n[j],
                    theta,
                    cand[0],
                    cand[1],
                    cand[2],
                    has_c,
                    a_prior,
                    a_mu,
                    a_sd,
                    c_prior,
                    c_al,
                    c_be,
                    grad,
                    info,
                )
                if f2 > -np.inf and f2 >= f - 1e-10 * max(1.0, abs(f)):
                    accepted = True
                    break
                scale *= 0.5
            if not accepted:
                # grad/info now belong to a rejected point; stop at cur
                break
            moved = 0.0
            for i in range(3):
                moved = max(moved, abs(cand[i] - cur[i]))
                cur[i] = cand[i]
            f = f2
            if moved < tol:
                break
        for i in range(3):
            x[j, i] = cur[i]


@njit(parallel=True, fastmath=True, cache=True)
def louis_matvec(offsets, codes, logtab, logprior, dlog, bounds, n_par, slot, v, out):
    """``out[chunk] += sum_p Cov_p[s_p] v``: the second term of Louis' information times a
    vector, without forming the matrix. For person p with posterior weights ``w_q`` and
    centred complete-data scores ``e_jq`` of the free items they answered,
    ``(Cov_p v)_j = sum_q w_q e_jq (sum_k e_kq . v_k)``. One pass over the responses per
    product (the cost of an E-step times ``n_par``); ``out`` is ``(chunks, n_raw)``."""
    n_chunks = bounds.shape[0] - 1
    n_q = logtab.shape[1]
    for c in prange(n_chunks):
        buf = out[c]
        ll = np.empty(n_q)
        w = np.empty(n_q)
        t = np.empty(n_q)
        for p in range(bounds[c], bounds[c + 1]):
            lo = offsets[p]
            hi = offsets[p + 1]
            m, s = _posterior_weights(codes, lo, hi, logtab, logprior, ll, w)
            for q in range(n_q):
                w[q] /= s
                t[q] = 0.0
            for k in range(lo, hi):
                code = codes[k]
                base = slot[code >> 1]
                if base < 0:
                    continue
                for mm in range(n_par):
                    acc = 0.0
                    for q in range(n_q):
                        acc += w[q] * dlog[code, q, mm]
                    vm = v[base + mm]
                    for q in range(n_q):
                        t[q] += (dlog[code, q, mm] - acc) * vm
            for k in range(lo, hi):
                code = codes[k]
                base = slot[code >> 1]
                if base < 0:
                    continue
                for mm in range(n_par):
                    acc = 0.0
                    for q in range(n_q):
                        acc += w[q] * dlog[code, q, mm]
                    tot = 0.0
                    for q in range(n_q):
                        tot += w[q] * (dlog[code, q, mm] - acc) * t[q]
                    buf[base + mm] += tot
