"""Accuracy defects of the engine's second round (issue: exact for heavy users, observed
information, shared parameters, identification, latent distribution, 3PL convergence, item fit
on sparse data). Each test failed before its fix."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from alt42_pipeline.irt import calibrate, score, simulate_items, simulate_responses


def _loglik3(items, x, t):
    a, d, c = (items[k].to_numpy() for k in ("a", "d", "c"))
    p = c + (1 - c) * expit(a * t + d)
    return float(np.sum(x * np.log(p) + (1 - x) * np.log1p(-p)))


def test_map_se_under_3pl_is_from_observed_information():
    items = simulate_items(15, "3pl", seed=3)[["a", "d", "c"]]
    df, _ = simulate_responses(items, 40, seed=4)
    out = score(df, items, "map").set_index("user_id")
    worst = 0.0
    for u, g in df.groupby("user_id"):
        x = g.set_index("item_id")["correct"].reindex(items.index).to_numpy()
        t = out.loc[u, "theta"]
        h = 1e-4

        def f(tt):
            return _loglik3(items, x, tt) - 0.5 * tt * tt

        second = (f(t + h) - 2 * f(t) + f(t - h)) / h**2
        worst = max(worst, abs(out.loc[u, "se"] - 1 / np.sqrt(-second)))
    assert worst < 1e-4
