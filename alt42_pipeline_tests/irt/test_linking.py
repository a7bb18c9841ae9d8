import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt import LinkingConstants, calibrate, link, rescale, score, simulate_items, simulate_responses

METHODS = ["mean-mean", "mean-sigma", "haebara", "stocking-lord"]


@pytest.mark.parametrize("method", METHODS)
def test_exact_transformation_recovered(method):
    ref = simulate_items(15, "3pl", seed=1)
    A, B = 1.3, -0.4
    new = ref.copy()  # same items expressed on a new scale
    new["a"] = ref["a"] * A
    new["b"] = (ref["b"] - B) / A
    new["d"] = -new["a"] * new["b"]
    k = link(new, ref, method=method)
    assert isinstance(k, LinkingConstants)
    assert k.slope == pytest.approx(A, abs=1e-5)
    assert k.intercept == pytest.approx(B, abs=1e-5)
    assert k.n_anchors == 15 and k.method == method
    items, _ = rescale(new, None, k)
    np.testing.assert_allclose(items[["a", "b", "d"]], ref[["a", "b", "d"]], atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_link_two_calibrations(method):
    true = simulate_items(30, "2pl", seed=5)
    ref_df, _ = simulate_responses(true.iloc[:20], 4000, seed=6)
    theta_new = np.random.default_rng(7).normal(0.6, 1.25, 4000)  # on the reference scale
    new_df, _ = simulate_responses(true.iloc[10:], 4000, seed=8, theta=theta_new)
    ref_fit = calibrate(ref_df, "2pl", se=False)
    new_fit = calibrate(new_df, "2pl", se=False)  # its own N(0,1) scale
    k = link(new_fit.items, ref_fit.items, method=method)
    assert k.n_anchors == 10
    assert k.slope == pytest.approx(1.25, abs=0.12)
    assert k.intercept == pytest.approx(0.6, abs=0.1)
    abil = score(new_df, new_fit.items)
    items, abil2 = rescale(new_fit.items, abil, k)
    assert float(abil2["theta"].mean()) == pytest.approx(0.6, abs=0.12)
    np.testing.assert_allclose(abil2["se"], abil["se"] * k.slope)
    only_new = true.index[20:]
    assert np.sqrt(np.mean((items.loc[only_new, "b"] - true.loc[only_new, "b"]) ** 2)) < 0.2


def test_link_needs_common_items():
    a = pd.DataFrame({"a": [1.0], "d": [0.0]}, index=["x"])
    b = pd.DataFrame({"a": [1.0], "d": [0.0]}, index=["y"])
    with pytest.raises(ValueError, match="at least 2 common items, found 0"):
        link(a, b)
    with pytest.raises(ValueError, match="method must be one of"):
        link(a, b, method="fixed")
