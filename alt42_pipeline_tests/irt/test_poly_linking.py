"""Linking over mixed anchor sets (binary and polytomous items) and rescaling."""

import numpy as np
import pytest

from alt42_pipeline.irt import calibrate, link, rescale, score
from alt42_pipeline.irt.polylink import transform
from alt42_pipeline.irt.polymodel import items_table, poly_item_arrays
from alt42_pipeline.irt.polysim import simulate_mixed_items, simulate_mixed_responses

METHODS = ["mean-mean", "mean-sigma", "haebara", "stocking-lord"]
MODELS = ["2pl"] * 10 + ["gpcm"] * 8 + ["grm"] * 6 + ["pcm"] * 6


@pytest.mark.parametrize("method", METHODS)
def test_exact_transformation_recovered(method):
    ref = simulate_mixed_items(MODELS[:24], 4, seed=1)
    A, B = 1.3, -0.4
    # the same items expressed on a scale with theta_new = (theta_ref - B) / A
    new = items_table(transform(poly_item_arrays(ref), 1 / A, -B / A))
    k = link(new, ref, method=method)
    assert k.slope == pytest.approx(A, abs=1e-5)
    assert k.intercept == pytest.approx(B, abs=1e-5)
    assert k.n_anchors == 24
    back, _ = rescale(new, None, k)
    cols = ["a", "b", "d1", "d2", "d3", "b1", "b2", "b3"]
    np.testing.assert_allclose(back[cols].to_numpy(float), ref[cols].to_numpy(float), atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_linking_recovers_a_known_slope_and_intercept_on_a_mixed_anchor_set(method):
    true = simulate_mixed_items(MODELS, 4, seed=5)
    models = dict(zip(true.index, true["model"]))
    ref_df, _ = simulate_mixed_responses(true.iloc[:20], 20000, seed=6)
    theta_new = np.random.default_rng(7).normal(0.6, 1.25, 20000)  # on the reference scale
    new_df, _ = simulate_mixed_responses(true.iloc[10:], 20000, seed=8, theta=theta_new)
    ref_fit = calibrate(ref_df, models, se=False)
    new_fit = calibrate(new_df, models, se=False)  # its own N(0, 1) scale
    k = link(new_fit.items, ref_fit.items, method=method)
    assert k.n_anchors == 10  # 2 binary, 8 GPCM
    assert k.slope == pytest.approx(1.25, abs=0.02)
    assert k.intercept == pytest.approx(0.6, abs=0.02)
    abil = score(new_df, new_fit.items)
    items, abil2 = rescale(new_fit.items, abil, k)
    assert float(abil2["theta"].mean()) == pytest.approx(0.6, abs=0.05)
    assert items.attrs["theta_mean"] == pytest.approx(k.intercept)
    only_new = true.index[20:]
    err = items.loc[only_new, ["b1", "b2", "b3"]] - true.loc[only_new, ["b1", "b2", "b3"]]
    assert float(np.sqrt(np.nanmean(err.to_numpy(float) ** 2))) < 0.1
    assert items["se_d1"].isna().all()


def test_binary_reference_table_links_a_mixed_calibration():
    """The warehouse's anchors are binary tables (a, d, b, c)."""
    true = simulate_mixed_items(["2pl"] * 6 + ["gpcm"] * 4, 3, seed=9)
    ref = true.loc[true["model"] == "2pl", ["a", "d", "b"]].assign(c=np.nan)
    new = items_table(transform(poly_item_arrays(true), 1 / 1.2, -0.3 / 1.2))
    k = link(new, ref, method="stocking-lord")
    assert k.n_anchors == 6
    assert (k.slope, k.intercept) == (pytest.approx(1.2, abs=1e-5), pytest.approx(0.3, abs=1e-5))
    wrong = true.iloc[6:].assign(n_categories=4, d3=-3.0, b3=3.0)
    with pytest.raises(ValueError, match="other numbers of categories"):
        link(wrong, true.iloc[6:])
