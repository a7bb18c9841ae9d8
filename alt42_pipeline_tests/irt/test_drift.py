"""Drift-robust anchoring: purified linking names exactly the shifted anchors and recovers the
constants; without shifted anchors, few are flagged."""

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt import calibrate, simulate_items, simulate_responses
from alt42_pipeline.irt.drift import anchor_drift, calibration_drift, link_purified, linking_covariance
from alt42_pipeline.irt.linking import LinkingConstants, link

SLOPE, INTERCEPT = 1.2, 0.3  # theta_ref = SLOPE * theta_new + INTERCEPT


def _world(n_users, seed, shifted=(), shift=0.8, n_anchors=20, n_other=20):
    """Reference parameters of the anchors and a calibration of new data on its own scale in
    which the ``shifted`` anchors became ``shift`` logits (reference scale) harder."""
    ref = simulate_items(n_anchors, "2pl", seed=seed)[["a", "b"]]
    ref.index = [f"A{i}" for i in range(n_anchors)]
    other = simulate_items(n_other, "2pl", seed=seed + 1)[["a", "b"]]
    other.index = [f"X{i}" for i in range(n_other)]
    true_ref = pd.concat([ref, other])
    b_ref = true_ref["b"].copy()
    b_ref.loc[list(shifted)] += shift
    new = pd.DataFrame({"a": true_ref["a"] * SLOPE, "b": (b_ref - INTERCEPT) / SLOPE}, index=true_ref.index)
    new["d"] = -new["a"] * new["b"]
    df, _ = simulate_responses(new[["a", "d"]], n_users, seed=seed + 2)
    fit = calibrate(df, "2pl")
    return fit.items, ref


def test_purified_linking_names_exactly_the_shifted_anchors_and_recovers_the_constants():
    shifted = ["A3", "A8", "A15"]
    items, ref = _world(3000, 10, shifted)
    naive = link(items, ref)
    out = link_purified(items, ref)
    assert set(out.drifting) == set(shifted)
    assert out.constants.n_anchors == 17
    assert out.constants.slope == pytest.approx(SLOPE, abs=0.03)
    assert out.constants.intercept == pytest.approx(INTERCEPT, abs=0.03)
    # the naive linking is off by about 3/20 of the shift
    assert abs(naive.intercept - INTERCEPT) > 0.06
    assert 0 < out.slope_se < 0.05 and 0 < out.intercept_se < 0.05
    assert out.anchors.loc[shifted, "delta_b"].between(0.5, 1.1).all()
    assert not out.anchors.loc[shifted, "used"].any()


def test_without_shifted_anchors_few_are_flagged():
    flagged = total = 0
    for rep in range(12):
        items, ref = _world(400, 100 + 7 * rep)
        out = link_purified(items, ref)
        flagged += int(out.anchors["drifting"].sum())
        total += len(out.anchors)
    assert total == 240
    assert flagged / total < 0.05


def test_anchors_kept_out_are_not_used_but_get_statistics():
    items, ref = _world(1500, 20)
    out = link_purified(items, ref, exclude=["A1", "A2"])
    assert out.constants.n_anchors == 18
    assert out.anchors.loc[["A1", "A2"], "kept_out"].all()
    assert not out.anchors.loc[["A1", "A2"], "used"].any()
    assert np.isfinite(out.anchors.loc[["A1", "A2"], "z_b"]).all()
    with pytest.raises(ValueError, match="kept out for review"):
        link_purified(items.loc[["A1", "A2", "A3"]], ref, exclude=["A1", "A2"])


@pytest.mark.parametrize("method", ["mean-mean", "mean-sigma", "stocking-lord", "haebara"])
def test_linking_standard_errors_match_a_parametric_bootstrap(method):
    rng = np.random.default_rng(3)
    ref = simulate_items(15, "2pl", seed=4)[["a", "b"]]
    new = pd.DataFrame({"a": ref["a"] * SLOPE, "b": (ref["b"] - INTERCEPT) / SLOPE}, index=ref.index)
    new["se_a"], new["se_b"] = 0.08, 0.1
    k = link(new, ref, method=method)
    cov = linking_covariance(new, ref, k)
    draws = []
    for _ in range(150):
        pert = new.copy()
        pert["a"] = new["a"] + rng.normal(0, 0.08, len(new))
        pert["b"] = new["b"] + rng.normal(0, 0.1, len(new))
        kk = link(pert[["a", "b"]], ref, method=method)
        draws.append((kk.slope, kk.intercept))
    boot = np.cov(np.array(draws).T)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(boot)), rtol=0.2)


def test_anchor_drift_statistics_use_the_standard_errors():
    ref = pd.DataFrame({"a": [1.0, 1.0], "b": [0.0, 0.5]}, index=["p", "q"])
    new = pd.DataFrame({"a": [1.0, 1.0], "b": [0.4, 0.5], "se_a": [0.1, 0.1], "se_b": [0.1, 0.5]}, index=["p", "q"])
    stats = anchor_drift(new, ref, LinkingConstants(1.0, 0.0, "none", 2))
    assert stats.loc["p", "z_b"] == pytest.approx(4.0)
    assert stats.loc["p", "drifting"]
    assert stats.loc["q", "delta_b"] == 0 and not stats.loc["q", "drifting"]


def test_calibration_drift_reports_changed_non_anchor_items():
    prev = pd.DataFrame({"a": [1.0, 1.2, 0.9], "b": [0.0, 1.0, -1.0], "se_b": 0.05}, index=["x", "y", "anchor"])
    cur = prev.copy()
    cur.loc["y", "b"] = 1.6
    cur.loc["anchor", "b"] = 3.0
    rep = calibration_drift(prev, cur, exclude=["anchor"])
    assert list(rep.index) == ["y", "x"]
    assert rep.loc["y", "changed"] and not rep.loc["x", "changed"]
    assert rep.loc["y", "delta_b"] == pytest.approx(0.6)
