import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt import calibrate, simulate_items, simulate_responses
from alt42_pipeline.irt.fit import _summed_score_likelihood, item_fit


def test_lord_wingersky_matches_enumeration():
    rng = np.random.default_rng(0)
    P = rng.uniform(0.1, 0.9, (4, 3))
    L = _summed_score_likelihood(P)
    brute = np.zeros((5, 3))
    for pat in range(16):
        x = np.array([(pat >> k) & 1 for k in range(4)])
        brute[x.sum()] += np.prod(np.where(x[:, None] == 1, P, 1 - P), axis=0)
    np.testing.assert_allclose(L, brute)


def test_s_x2_flags_a_misfitting_item():
    true = simulate_items(15, "rasch", seed=1)
    true.loc[3, "a"] = 4.0  # one item far steeper than Rasch allows
    true.loc[3, "d"] = 0.0
    df, _ = simulate_responses(true, 3000, seed=2)
    fit = calibrate(df, "rasch", se=False)
    sx2 = item_fit(df, fit.items)
    assert (sx2["n_used"] == 3000).all()
    assert sx2.loc[3, "p_value"] < 1e-4
    others = sx2.drop(index=3)["p_value"]
    assert (others < 0.01).mean() <= 0.2
    assert (sx2["df"] > 5).all()


def test_s_x2_needs_complete_persons():
    items = pd.DataFrame({"a": [1.0, 1.0], "d": [0.0, 0.5]}, index=pd.Index(["x", "y"], name="item_id"))
    df = pd.DataFrame({"user_id": [1, 2], "item_id": ["x", "y"], "correct": [1, 0]})
    with pytest.raises(ValueError, match="answered every item"):
        item_fit(df, items)
