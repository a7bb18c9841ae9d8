"""Polytomous item models (GPCM, PCM, GRM) next to the binary ones of :mod:`.model`.

Parametrisation as R mirt, one latent trait ``theta``, item ``j`` with ``K`` categories
``0..K-1``, slope ``a`` and intercepts ``d1..d{K-1}``:

* generalized partial credit (``"gpcm"``, mirt's ``gpcm`` with scoring ``0..K-1``)::

      P(X = k | theta) = exp(a * k * theta + d_k) / sum_m exp(a * m * theta + d_m),  d_0 = 0

  in b-form the step difficulties are ``b_k = -(d_k - d_{k-1}) / a``, so
  ``d_k = -a * (b_1 + ... + b_k)``.  With ``K = 2`` it is the 2PL
  (``d_1 = d``, ``b_1 = b``): binary items of a mixed calibration are GPCM items with
  two categories, the same function as :func:`.model.response`.
* partial credit (``"pcm"``): the GPCM with one slope shared by all PCM items of a
  calibration (estimated; the Rasch PCM is its ``a = 1`` case).
* graded response (``"grm"``, mirt's ``graded``)::

      P(X >= k | theta) = logistic(a * theta + d_k),  d_1 > d_2 > ... > d_{K-1}
      P(X = k) = P(X >= k) - P(X >= k + 1)

  in b-form the thresholds are ``b_k = -d_k / a``.

An item's *location* (reported as ``b`` and used by the reports and the mean-sigma
linking) is the mean of its ``b_k``; for a binary item it is its difficulty.

Item tables of mixed calibrations are indexed by ``item_id`` with columns ``model``,
``n_categories``, ``a``, ``d1..dm`` and ``b1..bm`` (``m`` = most categories - 1, NaN past an
item's own), ``b`` (location) and ``d`` (binary items' intercept, NaN for polytomous ones,
so that code reading only binary tables through :func:`.model.item_arrays` refuses them by
name).  :func:`poly_item_arrays` reads them, and binary tables too.

Plain numpy: no numba, no I/O.  Arrays are items x categories x nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._messages import _fmt
from .model import d_from_b, expit

#: Item models of a mixed calibration; "2pl" items are binary (2 categories).
MIXED_MODELS = ("2pl", "gpcm", "pcm", "grm")
POLY_MODELS = ("gpcm", "pcm", "grm")
#: Kind codes of the compiled kernels: adjacent-category (2PL, GPCM, PCM) or graded.
ADJACENT, GRADED = 0, 1


def kind_of(model: str) -> int:
    return GRADED if model == "grm" else ADJACENT


@dataclass
class PolyItems:
    """Item parameters as arrays: ``model`` names, ``kind`` codes, ``ncat`` (categories),
    ``a`` and ``D`` (items x most categories - 1, NaN past an item's own)."""

    ids: pd.Index
    model: np.ndarray
    kind: np.ndarray
    ncat: np.ndarray
    a: np.ndarray
    D: np.ndarray

    @property
    def max_cat(self) -> int:
        return int(self.ncat.max()) if self.ncat.size else 2


def is_polytomous_table(items) -> bool:
    """Whether an items table is a mixed/polytomous one (has ``n_categories``)."""
    return isinstance(items, pd.DataFrame) and "n_categories" in items.columns


def intercept_columns(m: int) -> list[str]:
    return [f"d{k}" for k in range(1, m + 1)]


def threshold_columns(m: int) -> list[str]:
    return [f"b{k}" for k in range(1, m + 1)]


def b_from_intercepts(kind, a, D):
    """b-form of intercepts (rows of ``D``): GPCM steps ``-(d_k - d_{k-1}) / a``, GRM
    thresholds ``-d_k / a``."""
    kind = np.asarray(kind)
    a = np.asarray(a, dtype=float)[:, None]
    D = np.asarray(D, dtype=float)
    prev = np.concatenate([np.zeros((D.shape[0], 1)), D[:, :-1]], axis=1)
    steps = -(D - prev) / a
    thresholds = -D / a
    return np.where((kind == GRADED)[:, None], thresholds, steps)


def intercepts_from_b(kind, a, B):
    """Inverse of :func:`b_from_intercepts`."""
    kind = np.asarray(kind)
    a = np.asarray(a, dtype=float)[:, None]
    B = np.asarray(B, dtype=float)
    steps = -a * np.nancumsum(B, axis=1)
    steps[np.isnan(B)] = np.nan
    return np.where((kind == GRADED)[:, None], d_from_b(a, B), steps)


def location(kind, a, D, ncat):
    """Mean of an item's ``b_k`` (its difficulty for a binary item)."""
    B = b_from_intercepts(kind, a, D)
    return np.nanmean(np.where(_valid(ncat, D.shape[1]), B, np.nan), axis=1)


def _valid(ncat, m):
    """Mask (items x m) of the intercepts an item has."""
    return np.arange(m)[None, :] < (np.asarray(ncat)[:, None] - 1)


def log_category_probs(theta, kind, a, D, ncat):
    """``log P(X_j = k | theta_q)`` as items x (most categories) x nodes; ``-inf`` past
    an item's categories."""
    theta = np.asarray(theta, dtype=float)
    kind = np.asarray(kind)
    a = np.asarray(a, dtype=float)
    D = np.asarray(D, dtype=float)
    J, m = D.shape
    K = m + 1
    valid = np.concatenate([np.ones((J, 1), bool), _valid(ncat, m)], axis=1)
    out = np.full((J, K, theta.size), -np.inf)
    adj = np.flatnonzero(kind != GRADED)
    if adj.size:
        k = np.arange(K)
        Dfull = np.concatenate([np.zeros((adj.size, 1)), np.nan_to_num(D[adj], nan=0.0)], axis=1)
        z = a[adj, None, None] * k[None, :, None] * theta[None, None, :] + Dfull[:, :, None]
        z = np.where(valid[adj][:, :, None], z, -np.inf)
        zmax = z.max(axis=1, keepdims=True)
        out[adj] = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
    grd = np.flatnonzero(kind == GRADED)
    if grd.size:
        P = _graded_probs(theta, a[grd], D[grd], np.asarray(ncat)[grd])
        with np.errstate(divide="ignore"):
            out[grd] = np.where(valid[grd][:, :, None], np.log(np.maximum(P, 1e-300)), -np.inf)
    return out


def _graded_probs(theta, a, D, ncat):
    """GRM category probabilities (items x categories x nodes), 0 past an item's own."""
    J, m = D.shape
    star = np.zeros((J, m + 2, theta.size))
    star[:, 0] = 1.0
    for k in range(m):
        has = (ncat - 1) > k
        eta = a[:, None] * theta[None, :] + np.nan_to_num(D[:, k], nan=0.0)[:, None]
        star[:, k + 1] = np.where(has[:, None], expit(eta), 0.0)
    return star[:, :-1] - star[:, 1:]


def category_probs(theta, kind, a, D, ncat):
    """``P(X_j = k | theta_q)`` (items x categories x nodes)."""
    return np.exp(log_category_probs(theta, kind, a, D, ncat))


def answer_probs(theta, item, p: PolyItems):
    """``P(X = k | theta_i)`` of answer ``i`` to item ``item[i]`` (positions in ``p``):
    answers x categories, for per-answer abilities (fit statistics, residuals)."""
    theta = np.asarray(theta, dtype=float)
    item = np.asarray(item)
    out = np.zeros((theta.size, p.max_cat))
    for j in np.unique(item):
        rows = np.flatnonzero(item == j)
        sl = slice(j, j + 1)
        out[rows] = category_probs(theta[rows], p.kind[sl], p.a[sl], p.D[sl], p.ncat[sl])[0].T
    return out


def expected_score(theta, kind, a, D, ncat):
    """Expected category ``sum_k k P_k`` (items x nodes): the item characteristic curve
    of a polytomous item (P(correct) for a binary one)."""
    P = category_probs(theta, kind, a, D, ncat)
    return np.einsum("jkq,k->jq", P, np.arange(P.shape[1], dtype=float))


def item_information(theta, kind, a, D, ncat):
    """Fisher information of one answer about theta (items x nodes):
    GPCM ``a^2 Var(k | theta)``, GRM ``sum_k P_k'(theta)^2 / P_k``."""
    theta = np.asarray(theta, dtype=float)
    kind = np.asarray(kind)
    a = np.asarray(a, dtype=float)
    P = category_probs(theta, kind, a, D, ncat)
    k = np.arange(P.shape[1], dtype=float)
    mean = np.einsum("jkq,k->jq", P, k)
    var = np.einsum("jkq,k->jq", P, k * k) - mean**2
    out = a[:, None] ** 2 * var
    grd = np.flatnonzero(kind == GRADED)
    if grd.size:
        J, m = np.asarray(D)[grd].shape
        star = np.zeros((grd.size, m + 2, theta.size))
        star[:, 0] = 1.0
        for kk in range(m):
            has = (np.asarray(ncat)[grd] - 1) > kk
            eta = a[grd, None] * theta[None, :] + np.nan_to_num(np.asarray(D)[grd, kk], nan=0.0)[:, None]
            star[:, kk + 1] = np.where(has[:, None], expit(eta), 0.0)
        w = a[grd, None, None] * star * (1.0 - star)
        dP = w[:, :-1] - w[:, 1:]
        Pg = P[grd]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[grd] = np.where(Pg > 1e-300, dP**2 / np.maximum(Pg, 1e-300), 0.0).sum(axis=1)
    return out


def poly_item_arrays(items: pd.DataFrame, *, default_model: str = "2pl") -> PolyItems:
    """:class:`PolyItems` from an items table indexed by ``item_id``.

    Mixed tables have ``n_categories``, ``a`` and ``d1..`` (or ``b1..``); ``model`` per
    row (else ``default_model`` for polytomous rows, ``2pl`` for binary ones).  Binary
    tables (``a`` and ``d`` or ``b``, no ``c``) read as two-category GPCM items.  Errors
    (``ValueError`` naming the items): duplicate ids, unknown models, fewer than 2
    categories, missing or non-finite parameters, slopes not positive for graded items,
    GRM intercepts not decreasing, a lower asymptote (not supported in mixed formats).
    """
    if not isinstance(items, pd.DataFrame):
        raise TypeError("items must be a DataFrame indexed by item_id")
    if items.index.has_duplicates:
        raise ValueError(f"items has duplicate ids: {_fmt(items.index[items.index.duplicated()])}")
    if "c" in items and np.nan_to_num(items["c"].to_numpy(dtype=float)).any():
        bad = items.index[np.nan_to_num(items["c"].to_numpy(dtype=float)) != 0]
        raise ValueError(f"mixed formats take no lower asymptote; items {_fmt(bad)} have c > 0")
    J = len(items)
    if "a" not in items:
        raise ValueError("items need column 'a'")
    a = items["a"].to_numpy(dtype=np.float64)
    if "n_categories" in items:
        ncat = items["n_categories"].to_numpy(dtype=np.float64)
        if np.isnan(ncat).any() or (ncat < 2).any():
            raise ValueError(f"n_categories must be at least 2; items {_fmt(items.index[~(ncat >= 2)])}")
        ncat = ncat.astype(np.int64)
    else:
        ncat = np.full(J, 2, dtype=np.int64)
    m = int(ncat.max()) - 1 if J else 1
    D = np.full((J, m), np.nan)
    if "model" in items:
        model = items["model"].astype(str).str.lower().to_numpy()
    else:
        model = np.where(ncat > 2, default_model, "2pl")
    model = model.astype(object)
    unknown = ~np.isin(model, MIXED_MODELS)
    if unknown.any():
        raise ValueError(f"unknown item models {sorted(set(model[unknown]))} for items {_fmt(items.index[unknown])}")
    kind = np.where(model == "grm", GRADED, ADJACENT).astype(np.int64)
    dcols = intercept_columns(m)
    bcols = threshold_columns(m)
    if all(c in items for c in dcols):
        D[:] = items[dcols].to_numpy(dtype=np.float64)
    elif all(c in items for c in bcols):
        D[:] = intercepts_from_b(kind, a, items[bcols].to_numpy(dtype=np.float64))
    elif m == 1 and "d" in items:
        D[:, 0] = items["d"].to_numpy(dtype=np.float64)
    elif m == 1 and "b" in items:
        D[:, 0] = d_from_b(a, items["b"].to_numpy(dtype=np.float64))
    else:
        raise ValueError(f"items need intercept columns {dcols} (or {bcols})")
    valid = _valid(ncat, m)
    missing = (valid & ~np.isfinite(D)).any(axis=1) | ~np.isfinite(a)
    if missing.any():
        raise ValueError(f"item parameters missing or not finite for {_fmt(items.index[missing])}")
    D[~valid] = np.nan
    two_cat_poly = (model == "2pl") & (ncat != 2)
    if two_cat_poly.any():
        raise ValueError(f"2pl items must have 2 categories; items {_fmt(items.index[two_cat_poly])}")
    g = kind == GRADED
    disordered = g & ((np.diff(D, axis=1) >= 0) & valid[:, 1:]).any(axis=1)
    if disordered.any():
        raise ValueError(f"GRM intercepts must decrease (d1 > d2 > ...); items {_fmt(items.index[disordered])}")
    return PolyItems(items.index, model, kind, ncat, a, D)


def items_table(p: PolyItems) -> pd.DataFrame:
    """The mixed items table (see module docstring) of :class:`PolyItems`."""
    m = p.D.shape[1]
    B = b_from_intercepts(p.kind, p.a, p.D)
    out = pd.DataFrame(index=p.ids)
    out["model"] = p.model.astype(object)
    out["n_categories"] = p.ncat.astype(np.int64)
    out["a"] = p.a
    out["d"] = np.where(p.ncat == 2, p.D[:, 0], np.nan)
    out["b"] = location(p.kind, p.a, p.D, p.ncat)
    for k, (dc, bc) in enumerate(zip(intercept_columns(m), threshold_columns(m))):
        out[dc] = p.D[:, k]
        out[bc] = B[:, k]
    return out
