"""Seeded simulation of item parameters and long-format responses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .jit import njit
from .model import b_from_d, d_from_b, item_arrays, response

DESIGNS = ("dense", "random", "multistage")
#: Responses whose probabilities are computed at a time in the random design: computed at once,
#: 100M responses took eight float64 temporaries of 0.8 GB each (6.2 GB peak in the 100M
#: benchmark, which measured the simulation instead of the engine); the answers are the same.
RESPONSE_CHUNK = 1 << 22


def simulate_items(n_items: int, model: str = "2pl", seed: int = 0) -> pd.DataFrame:
    """True item parameters: ``a ~ lognormal(0, 0.25)`` (1 for rasch, common
    draw for 1pl), ``b ~ N(0, 1)``, ``c ~ U(0.1, 0.3)`` for the 3pl.
    Indexed by integer ``item_id`` 0..n_items-1."""
    rng = np.random.default_rng(seed)
    model = model.lower()
    if model == "rasch":
        a = np.ones(n_items)
    elif model == "1pl":
        a = np.full(n_items, float(rng.lognormal(0.0, 0.25)))
    else:
        a = rng.lognormal(0.0, 0.25, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    out = pd.DataFrame({"a": a, "d": d_from_b(a, b), "b": b}, index=pd.RangeIndex(n_items, name="item_id"))
    if model == "3pl":
        out["c"] = rng.uniform(0.1, 0.3, n_items)
    return out


@njit(cache=True)
def _random_design(n_users, n_items, k, seed):
    """Each user's ``k`` distinct random items and one uniform draw per
    response, in the order the draws are made, so a seed gives the same data
    whatever computes the probabilities; the answer is correct if the draw is
    below P (computed outside, by the item model)."""
    np.random.seed(seed)
    mark = np.full(n_items, -1, dtype=np.int64)
    users = np.empty(n_users * k, dtype=np.int32)
    items = np.empty(n_users * k, dtype=np.int32)
    draws = np.empty(n_users * k)
    pos = 0
    for u in range(n_users):
        # Floyd's algorithm: k distinct items out of n_items.
        for t in range(n_items - k, n_items):
            j = np.random.randint(0, t + 1)
            if mark[j] == u:
                j = t
            mark[j] = u
            users[pos] = u
            items[pos] = j
            draws[pos] = np.random.random()
            pos += 1
    return users, items, draws


def simulate_responses(
    items: pd.DataFrame,
    n_users: int,
    *,
    design: str = "dense",
    items_per_user: int | None = None,
    seed: int = 0,
    theta: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Responses of ``n_users`` simulees with ``theta ~ N(0, 1)`` (or given).

    Designs: ``"dense"`` (everyone answers every item), ``"random"`` (each user
    answers ``items_per_user`` distinct random items), ``"multistage"``
    (items sorted by difficulty into 5 blocks; everyone takes the middle
    block, then an easier or harder block by number correct, then a third
    block nearer their level: 60% of items observed, missing at random given
    the observed answers).  Returns ``(responses, theta)`` with integer ids.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}")
    rng = np.random.default_rng(seed)
    if theta is None:
        theta = rng.normal(0.0, 1.0, n_users)
    theta = np.asarray(theta, dtype=np.float64)
    a, d, c = item_arrays(items)
    ids = items.index.to_numpy()
    thetas = pd.Series(theta, index=pd.RangeIndex(n_users, name="user_id"), name="theta")
    if design == "random":
        if not items_per_user or items_per_user > a.size:
            raise ValueError("random design needs 0 < items_per_user <= number of items")
        u, j, draws = _random_design(n_users, a.size, int(items_per_user), int(seed) % (2**31))
        x = np.empty(u.size, dtype=np.int8)
        for s in range(0, u.size, RESPONSE_CHUNK):
            uu, jj = u[s : s + RESPONSE_CHUNK], j[s : s + RESPONSE_CHUNK]
            x[s : s + RESPONSE_CHUNK] = draws[s : s + RESPONSE_CHUNK] < response(theta[uu], a[jj], d[jj], c[jj])
        del draws
        df = pd.DataFrame(
            {"user_id": u, "item_id": ids[j] if not isinstance(items.index, pd.RangeIndex) else j, "correct": x}
        )
        return df, thetas
    p = response(theta[:, None], a, d, c)
    x = (rng.random(p.shape) < p).astype(np.int8)
    observed = np.ones_like(x, dtype=bool)
    if design == "multistage":
        order = np.argsort(b_from_d(a, d))
        blocks = np.array_split(order, 5)
        observed[:] = False
        mid = blocks[2]
        observed[:, mid] = True
        s1 = x[:, mid].sum(axis=1)
        high = s1 >= len(mid) / 2
        for u in range(n_users):
            b2 = blocks[3] if high[u] else blocks[1]
            observed[u, b2] = True
            s = s1[u] + x[u, b2].sum()
            frac = s / (len(mid) + len(b2))
            if high[u]:
                b3 = blocks[4] if frac >= 0.5 else blocks[1]
            else:
                b3 = blocks[0] if frac < 0.5 else blocks[3]
            observed[u, b3] = True
    uu, jj = np.nonzero(observed)
    df = pd.DataFrame({"user_id": uu.astype(np.int32), "item_id": ids[jj], "correct": x[uu, jj]})
    return df, thetas
