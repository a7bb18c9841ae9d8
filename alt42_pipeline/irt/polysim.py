"""Seeded simulation of mixed-format items (2PL, GPCM, PCM, GRM) and their responses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .polymodel import MIXED_MODELS, PolyItems, category_probs, intercepts_from_b, items_table, kind_of


def simulate_mixed_items(models, n_categories=4, seed: int = 0) -> pd.DataFrame:
    """True parameters of items with the given models (a list of names, one per item):
    ``a ~ lognormal(0, 0.25)`` (one common draw for the PCM items), b-form thresholds
    sorted draws of ``N(0, 1)`` (GPCM steps and GRM thresholds alike).  Binary (2PL)
    items have 2 categories, the others ``n_categories``.  Integer ``item_id`` 0..n-1."""
    rng = np.random.default_rng(seed)
    models = np.array([str(m).lower() for m in models], dtype=object)
    if not np.isin(models, MIXED_MODELS).all():
        raise ValueError(f"models must be among {MIXED_MODELS}")
    J = models.size
    ncat = np.where(models == "2pl", 2, int(n_categories)).astype(np.int64)
    a = rng.lognormal(0.0, 0.25, J)
    a[models == "pcm"] = float(rng.lognormal(0.0, 0.25))
    m = int(ncat.max()) - 1
    B = np.sort(rng.normal(0.0, 1.0, (J, m)), axis=1)
    B[np.arange(m)[None, :] >= (ncat[:, None] - 1)] = np.nan
    kind = np.array([kind_of(x) for x in models])
    D = intercepts_from_b(kind, a, B)
    return items_table(PolyItems(pd.RangeIndex(J, name="item_id"), models, kind, ncat, a, D))


def simulate_mixed_responses(
    items: pd.DataFrame, n_users: int, *, seed: int = 0, theta=None, missing: float = 0.0
) -> tuple[pd.DataFrame, pd.Series]:
    """Responses (``user_id, item_id, category``) of ``n_users`` simulees, ``theta ~ N(0,
    1)`` or given; each response is absent with probability ``missing``."""
    from .polymodel import poly_item_arrays

    rng = np.random.default_rng(seed)
    if theta is None:
        theta = rng.normal(0.0, 1.0, n_users)
    theta = np.asarray(theta, dtype=float)
    p = poly_item_arrays(items)
    P = category_probs(theta, p.kind, p.a, p.D, p.ncat)  # items x K x users
    u = rng.random((P.shape[0], 1, P.shape[2]))
    cat = (u > np.cumsum(P, axis=1)).sum(axis=1)  # items x users
    cat = np.minimum(cat, p.ncat[:, None] - 1)
    jj, uu = np.nonzero(rng.random(cat.shape) >= missing)
    df = pd.DataFrame({"user_id": uu.astype(np.int64), "item_id": items.index.to_numpy()[jj], "category": cat[jj, uu]})
    df = df.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
    return df, pd.Series(theta, index=pd.RangeIndex(n_users, name="user_id"), name="theta")
